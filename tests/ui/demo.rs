//! What a newcomer sees after `cargo run -- demo`: the grid and, one click
//! away, both diagrams of the healthy target side by side.

use std::time::Duration;

use ftp_exporter::demo::{Demo, DemoArgs};

use crate::pages::{assert_no_errors, assert_not_blank, diagram_modes};
use crate::support::browser::{screenshot_path, Browser};
use crate::support::service::{checked, scrape_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_the_grid_and_both_diagrams() {
    let args = DemoArgs { ftp_address: "127.0.0.1:0".parse().unwrap() };
    let demo = Demo::start(&args, "127.0.0.1:0").await.unwrap();
    let addr = demo.app.addr();
    scrape_until(addr, Duration::from_secs(30), |s| {
        checked(s, &["demo-healthy", "demo-wrong-password"], 1.0)
    })
    .await;
    let base = format!("http://{addr}");
    tokio::task::spawn_blocking(move || {
        let browser = Browser::start();
        let mut page = browser.page();
        page.viewport(1280, 800, false);
        page.goto(&format!("{base}/"));
        page.wait_for("document.body.dataset.ready === '1'", Duration::from_secs(10));
        let rows: Vec<String> = serde_json::from_value(page.eval(
            "[...document.querySelectorAll('tr.target')].map(r => r.dataset.name + '=' + r.dataset.state)",
        ))
        .unwrap();
        assert_eq!(rows, ["demo-healthy=up", "demo-wrong-password=down"]);
        assert_eq!(page.eval("document.querySelectorAll('td.cell.down .why').length"), 2);
        assert_no_errors(&mut page, "demo status page");
        assert_not_blank(&page.screenshot(&screenshot_path("demo-status.png"), 1200.0), "demo status page");

        // The link a newcomer clicks.
        let href =
            page.eval("document.querySelector('tr[data-name=\"demo-healthy\"] a').getAttribute('href')");
        page.goto(&format!("{base}/{}", href.as_str().unwrap()));
        assert_eq!(diagram_modes(&mut page), ["passive=true", "active=true"]);
        // list, retrieve, store and its read-back: four dashed data connections per mode,
        // exporter → server in passive mode, server → exporter in active mode.
        for (mode, from) in [("passive", "exporter"), ("active", "server")] {
            let n = page.eval(&format!(
                "document.querySelectorAll('svg.sd[data-mode={mode}] g.arrow.data[data-from={from}]').length"
            ));
            assert_eq!(n, 4, "{mode}");
        }
        assert_no_errors(&mut page, "demo diagrams");
        page.viewport(1500, 900, false);
        assert_not_blank(&page.screenshot(&screenshot_path("demo-diagrams.png"), 1600.0), "demo diagrams");
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    demo.app.shutdown(Duration::from_secs(5)).await;
}
