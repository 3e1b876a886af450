//! The status grid, the diagram pages and `/probe?debug=true` of an
//! exporter checking real and scripted servers, in headless Chromium.

use std::time::Duration;

use serde_json::Value;

use crate::real_servers::{RealServer, ServerKind, ServerOptions, HELLO_PATH};
use crate::screenshots::update_docs_image;
use crate::support::browser::{png_content, screenshot_path, Browser, Page};
use crate::support::fault_server::{ActiveFault, Banner, FaultServer, Reaction, Script};
use crate::support::service::*;

/// What a hostile server says: markup that would set the title or write
/// the DOM if it ever ran, quotes, and control characters.
pub const HOSTILE_BANNER: &str =
    "220 <script>document.title='PWNED-banner'</script><img src=x onerror=\"document.title='PWNED-img'\"> \"dq\" 'sq' \u{7}bell \u{1b}[31mred";
const HOSTILE_USER: &str = "331 <script>document.body.innerHTML='PWNED-user'</script> password?";
const HOSTILE_PASS: &str = "530 <svg onload=\"document.title='PWNED-svg'\"></svg> no \u{1}way";
const HOSTILE_NAME: &str = "hostile <b>\"quoted\"</b>";
const HOSTILE_LABEL: &str = "<script>document.title=\"PWNED-label\"</script>";

/// Asserts a screenshot is a picture, not a blank page.
pub fn assert_not_blank(png: &[u8], what: &str) {
    let (colours, ink) = png_content(png);
    assert!(colours >= 16 && ink >= 0.02, "{what}: looks blank ({colours} colours, {:.1}% ink)", ink * 100.0);
}

pub fn assert_no_errors(page: &mut Page, what: &str) {
    let errors = page.errors();
    assert!(errors.is_empty(), "{what}: the browser reported:\n{}", errors.join("\n"));
}

/// `mode=success` of each diagram on the page, in page order.
pub fn diagram_modes(page: &mut Page) -> Vec<String> {
    let js = "[...document.querySelectorAll('svg.sd')].map(s => s.dataset.mode + '=' + s.dataset.success)";
    serde_json::from_value(page.eval(js)).unwrap()
}

fn eval_str(page: &mut Page, js: &str) -> String {
    match page.eval(js) {
        Value::String(s) => s,
        v => panic!("{js}: not a string: {v}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_grid_and_diagrams_in_a_real_browser() {
    let ftp = Ftp::start().await;
    let vsftpd =
        tokio::task::spawn_blocking(|| RealServer::start(ServerKind::Vsftpd, ServerOptions::default()));
    let nat = tokio::task::spawn_blocking(|| {
        let opts = ServerOptions { pasv_address: Some("127.0.0.2".parse().unwrap()), ..Default::default() };
        RealServer::start(ServerKind::Vsftpd, opts)
    });
    let (vsftpd, nat) = (vsftpd.await.unwrap(), nat.await.unwrap());
    // Passive works, the server's connection back in active mode never comes:
    // the seed note's "login works but ls hangs" (no real server drops its own SYNs).
    let firewalled = FaultServer::start(Script::new().active(ActiveFault::NeverConnect)).await;
    let hostile = FaultServer::start(
        Script::new()
            .banner(Banner::Text(HOSTILE_BANNER.into()))
            .on("USER", Reaction::Reply(HOSTILE_USER.into()))
            .on("PASS", Reaction::Reply(HOSTILE_PASS.into())),
    )
    .await;
    std::fs::write(ftp.dir.path().join("vsftpd.pw"), &vsftpd.password).unwrap();
    let config = ftp.write_config(&format!(
        r#"defaults: {{ interval: 3s, timeout: 2s, username: monitor, password_file: good.pw }}
targets:
  - name: libunftp
    address: FTP_ADDR
    labels: {{ server: libunftp }}
    check: {{ list: /pub, retrieve: {{ path: /pub/hello.txt }}, store: {{ path: /incoming/ui.tmp }} }}
  - name: libunftp-wrong-password
    address: FTP_ADDR
    password_file: wrong.pw
  - name: vsftpd
    address: {vsftpd}
    username: {user}
    password_file: vsftpd.pw
    labels: {{ server: vsftpd }}
    check: {{ list: /pub, retrieve: {{ path: /{HELLO_PATH} }} }}
  - name: vsftpd-behind-nat
    address: {nat}
    username: {user}
    password_file: vsftpd.pw
    modes: [passive]
  - name: firewalled-active
    address: {firewalled}
    interval: 4s
  - name: '{name}'
    address: {hostile}
    labels: {{ note: '{label}' }}
"#,
        vsftpd = vsftpd.addr(),
        nat = nat.addr(),
        user = vsftpd.user,
        firewalled = firewalled.addr(),
        hostile = hostile.addr(),
        name = HOSTILE_NAME,
        label = HOSTILE_LABEL,
    ));
    let app = start_app(&config).await;
    let two_modes = ["libunftp", "libunftp-wrong-password", "vsftpd", "firewalled-active", HOSTILE_NAME];
    scrape_until(app.addr(), Duration::from_secs(40), |s| {
        checked(s, &two_modes, 2.0)
            && find(s, "ftp_checks_total", &[("target", "vsftpd-behind-nat")]).iter().any(|m| m.value >= 2.0)
    })
    .await;
    let base = format!("http://{}", app.addr());
    tokio::task::spawn_blocking(move || browse(&base))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    // The scripted server did what the pictures say: the exporter announced a
    // PORT and the server never connected back.
    assert!(firewalled.received("PORT") && firewalled.received("PASV"), "{:?}", firewalled.verbs());
    app.shutdown(Duration::from_secs(5)).await;
    drop((vsftpd, nat));
}

fn browse(base: &str) {
    let browser = Browser::start();
    status_page(&browser, base);
    diagram_pages(&browser, base);
    hostile_pages(&browser, base);
    probe_page(&browser, base);
}

fn status_page(browser: &Browser, base: &str) {
    let mut page = browser.page();
    // Short enough to scroll, so that keeping the scroll position means something.
    page.viewport(1280, 300, false);
    page.goto(&format!("{base}/?refresh=1"));
    page.wait_for("document.body.dataset.ready === '1'", Duration::from_secs(10));
    assert_eq!(eval_str(&mut page, "document.title"), "ftp_exporter", "a server's script set the title");
    let states = page
        .eval("[...document.querySelectorAll('tr.target')].map(r => r.dataset.name + '=' + r.dataset.state)");
    let states: Vec<String> = serde_json::from_value(states).unwrap();
    assert_eq!(
        states,
        [
            "firewalled-active=down".to_string(),
            format!("{HOSTILE_NAME}=down"),
            "libunftp=up".into(),
            "libunftp-wrong-password=down".into(),
            "vsftpd=up".into(),
            "vsftpd-behind-nat=up".into(),
        ]
    );
    let cell = |mode: &str| {
        format!("document.querySelector('tr[data-name=\"firewalled-active\"] td[data-mode=\"{mode}\"]')")
    };
    assert_eq!(eval_str(&mut page, &format!("{}.className", cell("passive"))), "cell up");
    assert_eq!(eval_str(&mut page, &format!("{}.className", cell("active"))), "cell down");
    assert_eq!(
        eval_str(&mut page, &format!("{}.querySelector('.why').textContent", cell("active"))),
        "data_connect / timeout"
    );
    let diag = eval_str(
        &mut page,
        "document.querySelector('tr[data-name=\"firewalled-active\"] .diag').textContent",
    );
    assert!(diag.contains("cannot open connections back to the exporter"), "{diag}");
    assert!(eval_str(&mut page, "document.querySelector('tr[data-name=\"vsftpd-behind-nat\"]').textContent")
        .contains("⚠ 227 advertises another address"));
    // Sparklines: at least two checks drawn in every checked cell.
    let checks: Vec<u64> = serde_json::from_value(page.eval(
        "[...document.querySelectorAll('td.cell:not(.none) svg.spark')].map(s => Number(s.dataset.checks))",
    ))
    .unwrap();
    assert_eq!(checks.len(), 11, "5 targets × 2 modes + 1 passive-only");
    assert!(checks.iter().all(|n| *n >= 2), "{checks:?}");
    // A link to both diagrams of every target.
    assert_eq!(page.eval("document.querySelectorAll('a[href^=\"transcript?target=\"]').length"), 6 + 2 * 11);
    // The hostile row: every string shown as text, no element made of it.
    let name = eval_str(
        &mut page,
        &format!(
            "document.querySelector('tr.target[data-name=\\'{}\\'] .name').textContent",
            HOSTILE_NAME.replace('"', "\\\"")
        ),
    );
    assert_eq!(name, HOSTILE_NAME);
    assert!(eval_str(&mut page, "document.body.textContent").contains(HOSTILE_LABEL));
    assert_eq!(page.eval("document.querySelectorAll('script').length"), 1, "only the page's own script");
    assert_eq!(page.eval("document.querySelectorAll('img, b, main svg:not(.spark)').length"), 0);

    // Filter and sort live in the hash and survive the in-place refresh, and so does the scroll.
    page.eval("document.querySelector('[data-filter=\"down\"]').click()");
    page.eval("(() => { const s = document.getElementById('sort'); s.value = 'state'; s.dispatchEvent(new Event('change')); })()");
    assert_eq!(eval_str(&mut page, "location.hash"), "#state=down&sort=state");
    let visible = "[...document.querySelectorAll('tr.target')].filter(r => !r.hidden).map(r => r.dataset.name).join(',')";
    let shown = eval_str(&mut page, visible);
    assert_eq!(shown, format!("firewalled-active,{HOSTILE_NAME},libunftp-wrong-password"));
    page.eval("window.scrollTo(0, 90)");
    let scrolled = page.eval("window.scrollY");
    assert!(scrolled.as_f64().unwrap_or(0.0) > 10.0, "the page does not scroll: {scrolled}");
    let before = page.eval("Number(document.body.dataset.refreshed || 0)").as_f64().unwrap();
    page.wait_for(
        &format!("Number(document.body.dataset.refreshed || 0) >= {}", before + 2.0),
        Duration::from_secs(10),
    );
    assert_eq!(eval_str(&mut page, "location.hash"), "#state=down&sort=state");
    assert_eq!(eval_str(&mut page, visible), shown, "the filter survived the refresh");
    assert_eq!(page.eval("window.scrollY"), scrolled, "the scroll position survived the refresh");
    assert!(eval_str(&mut page, "document.getElementById('updated').textContent").starts_with("updated "));
    assert!(eval_str(&mut page, "document.getElementById('summary').textContent")
        .starts_with("6 targets: 3 down, 0 pending, 3 up (3 shown)"));
    assert_no_errors(&mut page, "status page");

    page.eval("document.querySelector('[data-filter=\"all\"]').click()");
    page.eval("window.scrollTo(0, 0)");
    page.viewport(1280, 800, false);
    let png = page.screenshot(&screenshot_path("status.png"), 1400.0);
    assert_not_blank(&png, "status page");
    update_docs_image("status.png");

    // A phone: no sideways scrolling, the grid as cards.
    page.viewport(390, 844, true);
    page.goto(&format!("{base}/"));
    page.wait_for("document.body.dataset.ready === '1'", Duration::from_secs(10));
    let overflow = page.eval("document.documentElement.scrollWidth").as_f64().unwrap();
    assert!(overflow <= 391.0, "wider than the phone: {overflow}");
    assert_eq!(eval_str(&mut page, "getComputedStyle(document.querySelector('td.cell')).display"), "block");
    let png = page.screenshot(&screenshot_path("status-phone.png"), 2400.0);
    assert_not_blank(&png, "status page on a phone");
    assert_no_errors(&mut page, "status page on a phone");
}

fn diagram_pages(browser: &Browser, base: &str) {
    let mut page = browser.page();
    page.viewport(1500, 900, false);
    page.goto(&format!("{base}/transcript?target=firewalled-active&mode=active"));
    let modes = diagram_modes(&mut page);
    assert_eq!(modes, ["passive=true", "active=false"], "both modes side by side");
    assert_eq!(eval_str(&mut page, "document.querySelector('section.mode.selected').id"), "active");
    // Passive: dashed, exporter → server, to the port 227 named. Active: the
    // server's connection back to the PORT address, broken, with the diagnosis.
    let passive = "svg.sd[data-mode=passive] g.arrow.data[data-from=exporter][data-to=server]:not(.broken)";
    assert_eq!(page.eval(&format!("document.querySelectorAll('{passive}').length")), 1);
    assert_eq!(
        page.eval(&format!("document.querySelector('{passive} line').getAttribute('stroke-dasharray')")),
        "7 4"
    );
    let label = eval_str(&mut page, &format!("document.querySelector('{passive} .arrow-label').textContent"));
    assert!(label.starts_with("LIST data connection to 127.0.0.1:"), "{label}");
    let active = "svg.sd[data-mode=active] g.arrow.data.broken[data-from=server][data-to=exporter]";
    let label = eval_str(&mut page, &format!("document.querySelector('{active}').textContent"));
    assert!(
        label.contains("LIST data connection to 127.0.0.1:")
            && label.contains("(PORT)")
            && label.contains("never arrived: timeout"),
        "{label}"
    );
    let decoded = eval_str(&mut page, "[...document.querySelectorAll('svg.sd[data-mode=active] .arrow-detail')].map(t => t.textContent).join('|')");
    assert!(
        decoded.contains("= 127.0.0.1:") && decoded.contains("the server is to connect there"),
        "{decoded}"
    );
    let failure = eval_str(&mut page, "document.querySelector('svg.sd[data-mode=active] g.failure[data-phase=data_connect][data-reason=timeout]').textContent");
    assert!(
        failure.contains("data_connect / timeout") && failure.contains("cannot open connections back"),
        "{failure}"
    );
    assert_eq!(page.eval("document.querySelectorAll('svg.sd[data-mode=active] .band.failed').length"), 1);
    assert_eq!(page.eval("document.querySelectorAll('svg.sd[data-mode=passive] g.failure').length"), 0);
    assert_no_errors(&mut page, "diagram page");
    let png = page.screenshot(&screenshot_path("diagram-passive-active.png"), 1500.0);
    assert_not_blank(&png, "diagram page");
    update_docs_image("diagram-passive-active.png");

    // A real vsftpd advertising another address in 227: both addresses, marked.
    page.goto(&format!("{base}/transcript?target=vsftpd-behind-nat&mode=passive"));
    let data = eval_str(&mut page, "document.querySelector('svg.sd g.arrow.data.mismatch').textContent");
    assert!(data.contains("⚠ mismatch: 227 names 127.0.0.2, the control peer is 127.0.0.1"), "{data}");
    assert!(eval_str(&mut page, "document.getElementById('diagnosis').textContent")
        .contains("pasv_address in vsftpd"));
    assert_no_errors(&mut page, "mismatch diagram");
    let png = page.screenshot(&screenshot_path("diagram-mismatch.png"), 1500.0);
    assert_not_blank(&png, "mismatch diagram");

    // The wrong password: the 530 reply is the failing arrow, in both modes.
    page.goto(&format!("{base}/transcript?target=libunftp-wrong-password"));
    assert_eq!(page.eval("document.querySelectorAll('svg.sd g.arrow.reply.failed').length"), 2);
    assert_eq!(page.eval("[...document.querySelectorAll('svg.sd g.arrow.reply.failed .arrow-label')].every(t => t.textContent.startsWith('530'))"), true);
    assert_eq!(
        page.eval("document.querySelectorAll('svg.sd g.arrow.command .arrow-label')[1].textContent"),
        "PASS ****"
    );
    assert_no_errors(&mut page, "wrong-password diagram");
}

fn hostile_pages(browser: &Browser, base: &str) {
    let mut page = browser.page();
    page.viewport(1500, 900, false);
    let q = url_encode(HOSTILE_NAME);
    for url in
        [format!("{base}/transcript?target={q}&mode=passive"), format!("{base}/probe?target={q}&debug=true")]
    {
        page.goto(&url);
        assert_eq!(eval_str(&mut page, "document.title"), format!("{HOSTILE_NAME} — ftp_exporter"), "{url}");
        assert_eq!(
            page.eval("document.querySelectorAll('script, img, b, foreignObject').length"),
            0,
            "{url}"
        );
        assert!(!eval_str(&mut page, "document.body.innerHTML").contains("PWNED-user'</script>"), "{url}");
        let texts = eval_str(
            &mut page,
            "[...document.querySelectorAll('svg.sd text')].map(t => t.textContent).join('\\n')",
        );
        assert!(texts.contains("220 <script>document.title='PWNED-banner'</script><img src=x"), "{texts}");
        assert!(texts.contains("530 <svg onload="), "{texts}");
        let pre = eval_str(&mut page, "document.querySelector('pre').textContent");
        assert!(
            pre.contains("< 331 <script>document.body.innerHTML='PWNED-user'</script> password?"),
            "{pre}"
        );
        assert!(
            pre.contains("\"dq\" 'sq' \u{FFFD}bell \u{FFFD}[31mred"),
            "control characters neutralised: {pre}"
        );
        assert_no_errors(&mut page, &url);
    }
    let png = page.screenshot(&screenshot_path("hostile.png"), 1500.0);
    assert_not_blank(&png, "hostile diagrams");
}

fn probe_page(browser: &Browser, base: &str) {
    let mut page = browser.page();
    page.viewport(1500, 900, false);
    page.goto(&format!("{base}/probe?target=vsftpd&debug=true"));
    let modes = diagram_modes(&mut page);
    assert_eq!(modes, ["passive=true", "active=true"]);
    assert!(eval_str(&mut page, "document.querySelector('h1').textContent").ends_with("probe"));
    // vsftpd's active data connection comes from the server, dashed.
    assert_eq!(
        page.eval(
            "document.querySelectorAll('svg.sd[data-mode=active] g.arrow.data[data-from=server]').length"
        ),
        2
    );
    assert_no_errors(&mut page, "probe page");
    let png = page.screenshot(&screenshot_path("probe-vsftpd.png"), 2000.0);
    assert_not_blank(&png, "probe page");
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
