//! Section 5: scaling over pump threads.

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::{Config, Section};
use crate::gpu::Gpu;
use crate::report::Table;

/// Runs the section.
pub fn run(_gpu: &Gpu, _cfg: &Config, _file: &Path) -> Result<Section> {
    let mut t = Table::new("5. Scaling over pump threads", &["pump threads", "result"]);
    let why = "skipped: gdio.glsl binds one queue per shader (bindings 0 and 1), so one dispatch cannot yet spread its lanes over several queues with one pump each; several dispatches on one Vulkan queue do not run concurrently on every driver (lavapipe runs them one after another), which would measure serialisation, not pumps";
    t.row(vec!["1, 2, 4".into(), "skipped".into()]);
    t.note(why);
    Ok(Section {
        key: "scaling",
        table: t,
        chart: None,
        data: json!({ "skipped": why }),
    })
}
