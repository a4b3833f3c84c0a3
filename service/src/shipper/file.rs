//! The `file` sink: one JSON object per event and line,
//! `{"timestamp":MS,"stream":"ID","message":"…"}`, appended to a file.
//!
//! Each batch is written with one `write_all` on an `O_APPEND` file, so several
//! instances may share a file without interleaving inside a line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::batch::Batch;
use super::sink::{LogSink, PutOutcome, SinkError};

pub struct FileSink {
    path: PathBuf,
    /// The stream name, already JSON-encoded with its quotes.
    stream_json: String,
    file: Arc<Mutex<File>>,
}

impl FileSink {
    /// Opens (creating it and its folder if needed) the file for appending.
    pub fn open(path: &Path, stream: &str) -> std::io::Result<FileSink> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(FileSink {
            path: path.to_owned(),
            stream_json: serde_json::to_string(stream).unwrap_or_else(|_| "\"\"".into()),
            file: Arc::new(Mutex::new(file)),
        })
    }
}

/// The JSON lines for a batch.
pub fn encode(batch: &Batch, stream_json: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(batch.bytes + batch.len() * (40 + stream_json.len()));
    for e in &batch.events {
        buf.extend_from_slice(b"{\"timestamp\":");
        buf.extend_from_slice(e.timestamp_ms.to_string().as_bytes());
        buf.extend_from_slice(b",\"stream\":");
        buf.extend_from_slice(stream_json.as_bytes());
        buf.extend_from_slice(b",\"message\":");
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut buf, &*e.message);
        buf.extend_from_slice(b"}\n");
    }
    buf
}

#[async_trait]
impl LogSink for FileSink {
    async fn put(&self, batch: &Batch) -> Result<PutOutcome, SinkError> {
        let bytes = encode(batch, &self.stream_json);
        let file = self.file.clone();
        // A write to the page cache is short, but it is still blocking I/O.
        tokio::task::spawn_blocking(move || {
            let mut f = file
                .lock()
                .map_err(|_| SinkError::Io("file lock poisoned".into()))?;
            f.write_all(&bytes)
                .map_err(|e| SinkError::Io(e.to_string()))
        })
        .await
        .map_err(|e| SinkError::Io(e.to_string()))??;
        Ok(PutOutcome::default())
    }

    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shipper::LogEvent;

    #[tokio::test]
    async fn writes_one_json_object_per_line() {
        let dir = std::env::temp_dir().join(format!("svc-file-sink-{}", std::process::id()));
        let path = dir.join("sub/events.jsonl");
        let _ = std::fs::remove_dir_all(&dir);
        let sink = FileSink::open(&path, "i-1").unwrap();
        let batch = Batch {
            events: vec![
                LogEvent::new(5, "Iteration 5: Hello World"),
                LogEvent::new(6, "quote \" and\nnewline"),
            ],
            bytes: 0,
        };
        sink.put(&batch).await.unwrap();
        sink.put(&batch).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            serde_json::json!({"timestamp": 5, "stream": "i-1", "message": "Iteration 5: Hello World"})
        );
        assert_eq!(lines[1]["message"], "quote \" and\nnewline");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
