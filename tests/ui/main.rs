//! Issue 13 in a real browser: Debian's headless Chromium loads the status
//! grid, the diagram pages and `/probe?debug=true` from a running exporter
//! checking real servers (the embedded libunftp, vsftpd from Debian) and
//! scripted ones for what real servers will not do on demand (an active
//! mode whose connection back never arrives, a hostile banner); the demo a
//! newcomer runs; and `probe --output svg FILE`.
//!
//! Screenshots go to `target/ui-screenshots/` for reviewers. With
//! `UPDATE_DOCS_IMAGES=1` the README's pictures in `docs/images/` are
//! written from them too (quantised with Debian's pngquant).

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/real_servers/mod.rs"]
mod real_servers;

mod demo;
mod pages;
mod probe_svg;
mod recorded;
mod screenshots;
