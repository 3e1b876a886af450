//! The README's pictures are PNGs the page tests made (`pages.rs` writes
//! them anew with `UPDATE_DOCS_IMAGES=1`, quantised by Debian's pngquant),
//! kept small; this holds them to that.

use std::path::Path;

use crate::support::browser::{png_content, screenshot_path};

/// The README's pictures.
pub const PICTURES: &[&str] = &["status.png", "diagram-passive-active.png"];
const MAX_BYTES: u64 = 300 * 1024;

fn docs_images() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images")
}

/// With `UPDATE_DOCS_IMAGES=1`: `docs/images/NAME` from the screenshot of the same name.
pub fn update_docs_image(name: &str) {
    if std::env::var_os("UPDATE_DOCS_IMAGES").is_none() || !PICTURES.contains(&name) {
        return;
    }
    std::fs::create_dir_all(docs_images()).unwrap();
    let status = std::process::Command::new("pngquant")
        .args(["--force", "--speed", "1", "--quality", "60-90", "--strip", "--output"])
        .arg(docs_images().join(name))
        .arg(screenshot_path(name))
        .status()
        .expect("pngquant (Debian's pngquant, ci/install-deps.sh installs it)");
    assert!(status.success(), "pngquant {name}");
}

#[test]
fn the_readme_pictures_are_small_real_screenshots() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for picture in PICTURES {
        let path = docs_images().join(picture);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(bytes.len() as u64 <= MAX_BYTES, "{picture}: {} bytes", bytes.len());
        let (colours, ink) = png_content(&bytes);
        assert!(colours >= 16 && ink > 0.02, "{picture} looks blank");
        assert!(readme.contains(&format!("docs/images/{picture}")), "the README shows {picture}");
    }
}
