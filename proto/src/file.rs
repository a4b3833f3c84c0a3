//! Reading a small file that someone else provides (a key, a token, a config, a CA
//! bundle) safely: it must be a regular file (a FIFO would block the reader for good, and
//! a signal could not stop it) of at most `limit` bytes (`/dev/zero` or a runaway file
//! would take every byte of memory). Both are refused with an `io::Error` saying which.

use std::io::{self, Read};
use std::path::Path;

/// Keys and tokens: far below this.
pub const SECRET_LIMIT: u64 = 64 * 1024;

/// The whole of `path`, if it is a regular file of at most `limit` bytes.
pub fn read_small(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is not a regular file (a device, pipe or socket)",
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("is larger than {limit} bytes"),
        ));
    }
    Ok(bytes)
}

/// [`read_small`] as UTF-8 text.
pub fn read_small_to_string(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_small(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_pipes_directories_and_big_files() {
        let dir = std::env::temp_dir().join(format!("proto-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small");
        std::fs::write(&small, "key\n").unwrap();
        assert_eq!(read_small(&small, 4).unwrap(), b"key\n");
        assert_eq!(read_small_to_string(&small, 4).unwrap(), "key\n");
        let e = read_small(&small, 3).unwrap_err();
        assert_eq!(e.to_string(), "is larger than 3 bytes");
        // An endless device: refused at once, nothing read.
        let e = read_small(Path::new("/dev/zero"), SECRET_LIMIT).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        // A FIFO with no writer: refused without opening it (opening would block).
        let fifo = dir.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = read_small(&fifo, SECRET_LIMIT).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert_eq!(
            read_small(&dir, 10).unwrap_err().to_string(),
            "is a directory"
        );
        assert_eq!(
            read_small(&dir.join("absent"), 10).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        std::fs::write(&small, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_small_to_string(&small, 10).unwrap_err().to_string(),
            "is not UTF-8 text"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
