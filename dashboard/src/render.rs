//! askama templates and the per-tick fragment cache.
//!
//! The live section depends only on (tick, window), so it is rendered once per
//! tick and window and shared by every open dashboard: 50 SSE clients cost one
//! render per tick, not fifty.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use askama::Template;

use crate::Source;
use crate::view::{self, LiveView};
use crate::window::Window;

#[derive(Template)]
#[template(path = "live.html")]
struct LiveTemplate<'a> {
    live: &'a LiveView,
}

#[derive(Template)]
#[template(path = "page.html")]
struct PageTemplate<'a> {
    group: &'a str,
    window: Window,
    windows: [Window; 4],
    refresh_secs: u64,
    tick_ms: u64,
    /// Why the ticks are late, when they are (rendered fresh, outside the cached section).
    late: Option<String>,
    live_html: &'a str,
}

#[derive(Debug, thiserror::Error)]
#[error("rendering the dashboard failed: {0}")]
pub struct RenderError(#[from] askama::Error);

/// Renders the live section of one tick.
pub fn live_html(live: &LiveView) -> Result<String, RenderError> {
    Ok(LiveTemplate { live }.render()?)
}

/// Reads the source and renders the live section for `window`.
pub fn live_from_source(source: &dyn Source, window: Window) -> Result<String, RenderError> {
    let status = source.status();
    let since = status.updated_at_ms.saturating_sub(window.millis());
    let view = view::live(&status, &source.decisions(), &source.metrics(since), window);
    live_html(&view)
}

/// The full page around an already rendered live section; `late`: why the controller's
/// ticks are late, if they are.
pub fn page_html(
    group: &str,
    window: Window,
    tick_ms: u64,
    late: Option<String>,
    live_html: &str,
) -> Result<String, RenderError> {
    Ok(PageTemplate {
        group,
        window,
        windows: Window::ALL,
        refresh_secs: (tick_ms / 1000).clamp(5, 60),
        tick_ms,
        late,
        live_html,
    }
    .render()?)
}

/// The live section per window, for the latest tick seen.
pub struct FragmentCache {
    source: Arc<dyn Source>,
    slots: Mutex<HashMap<Window, (u64, Arc<str>)>>,
}

impl FragmentCache {
    pub fn new(source: Arc<dyn Source>) -> FragmentCache {
        FragmentCache {
            source,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn source(&self) -> &dyn Source {
        &*self.source
    }

    /// The live section for `tick` (the value from [`Source::subscribe`]),
    /// rendered at most once per tick and window. The lock is held while
    /// rendering so concurrent clients wait for one render instead of each
    /// doing their own.
    pub fn live(&self, window: Window, tick: u64) -> Result<Arc<str>, RenderError> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((t, html)) = slots.get(&window)
            && *t == tick
        {
            return Ok(html.clone());
        }
        let html: Arc<str> = live_from_source(&*self.source, window)?.into();
        slots.insert(window, (tick, html.clone()));
        Ok(html)
    }
}
