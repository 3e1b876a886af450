//! The sequence diagram of one check: what the troubleshooting
//! note draws by hand — the control connection, and dashed, the data
//! connection in the direction it is opened, with the address `PORT`/`227`
//! carried — drawn from every real check.
//!
//! [`layout`] turns a check's facts into geometry (testable without SVG);
//! [`svg`] turns geometry into SVG text.

pub mod layout;
mod rows;
pub mod svg;

pub use layout::{layout, Arrow, ArrowKind, Band, Check, FailureMark, Layout, Side};

use crate::check::Phase;

/// One colour per phase: the diagrams' bands and the sparklines' stacks.
pub fn phase_color(p: Phase) -> &'static str {
    match p {
        Phase::Resolve => "#8c564b",
        Phase::Connect => "#7f7f7f",
        Phase::Banner => "#bcbd22",
        Phase::Tls => "#9467bd",
        Phase::Login => "#2ca02c",
        Phase::DataSetup => "#17becf",
        Phase::DataConnect => "#1f77b4",
        Phase::Transfer => "#ff7f0e",
        Phase::Quit => "#aec7e8",
    }
}

/// One check drawn as a standalone SVG document.
pub fn render(c: &Check) -> String {
    svg::render(&layout(c))
}
