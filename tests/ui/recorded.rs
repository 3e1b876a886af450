//! Diagrams of sessions recorded from real checks (not hand-made ones):
//! the runner's own transcript and session record, against the embedded
//! libunftp (passive and active), vsftpd with explicit FTPS, and scripted
//! servers for an active connection back that never comes and a 227 that
//! names another address. Asserted on the layout and on the SVG's structure.

use std::time::Duration;

use ftp_exporter::check::{self, CheckEnv, CheckPlan, Mode, Outcome, Phase, Reason, TlsMode, Toggle};
use ftp_exporter::secret::Secret;
use ftp_exporter::status::diagram::{layout, svg, ArrowKind, Check, Layout, Side};

use crate::real_servers::{RealServer, ServerKind, ServerOptions};
use crate::support::fault_server::{ActiveFault, FaultServer, PasvFault, Script};
use crate::support::service::{Ftp, PASSWORD, USER};

fn draw(o: &Outcome) -> (Layout, roxmltree::Document<'static>) {
    let diagnosis = check::diagnose(&[o]).map(|d| d.summary);
    let l = layout(&Check {
        target: "recorded",
        address: "127.0.0.1",
        outcome: o,
        transcript: &o.transcript,
        record: &o.record,
        diagnosis: diagnosis.as_deref(),
    });
    // Leaked: a test process, a handful of small documents.
    let text: &'static str = Box::leak(svg::render(&l).into_boxed_str());
    (l, roxmltree::Document::parse(text).unwrap())
}

fn data(l: &Layout) -> Vec<&ftp_exporter::status::diagram::Arrow> {
    l.arrows.iter().filter(|a| a.kind == ArrowKind::Data).collect()
}

fn svg_data_from(doc: &roxmltree::Document, from: &str) -> usize {
    doc.descendants()
        .filter(|n| n.attribute("data-kind") == Some("data") && n.attribute("data-from") == Some(from))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_sessions_draw_as_the_troubleshooting_notes_pictures() {
    let env = CheckEnv::default();
    // libunftp, both modes: one LIST each way.
    let ftp = Ftp::start().await;
    for mode in [Mode::Passive, Mode::Active] {
        let mut plan = CheckPlan::new("127.0.0.1", ftp.addr().port(), mode);
        (plan.username, plan.password) = (USER.into(), Secret::new(PASSWORD));
        plan.list = Some("/pub".into());
        plan.passive.epsv = Toggle::Never;
        let o = check::run(&plan, &env).await;
        assert!(o.success(), "{}", o.transcript);
        let (l, doc) = draw(&o);
        let d = data(&l);
        assert_eq!(d.len(), 1);
        let port = o.record.data[0].announced_port.unwrap();
        let to = format!("127.0.0.1:{port}");
        match mode {
            Mode::Passive => {
                assert_eq!((d[0].from, d[0].to()), (Side::Exporter, Side::Server));
                assert_eq!(d[0].label, format!("LIST data connection to {to}"));
                let pasv = l.arrows.iter().find(|a| a.label.starts_with("227 ")).unwrap();
                assert_eq!(pasv.details, [format!("= {to}: the exporter is to connect there")]);
                assert_eq!(svg_data_from(&doc, "exporter"), 1);
            }
            Mode::Active => {
                assert_eq!((d[0].from, d[0].to()), (Side::Server, Side::Exporter));
                assert_eq!(d[0].label, format!("LIST data connection to {to} (PORT)"));
                let port_cmd = l.arrows.iter().find(|a| a.label.starts_with("PORT 127,0,0,1,")).unwrap();
                assert_eq!(port_cmd.details, [format!("= {to}: the server is to connect there")]);
                assert_eq!(svg_data_from(&doc, "server"), 1);
            }
        }
        assert!(l.arrows.iter().any(|a| a.label == "PASS ****"));
        assert!(!svg::render(&l).contains(PASSWORD));
        let phases: Vec<Phase> = l.bands.iter().map(|b| b.phase).collect();
        assert_eq!(phases.first(), Some(&Phase::Connect));
        assert_eq!(phases.last(), Some(&Phase::Quit));
    }

    // vsftpd, explicit FTPS: the handshake, and the data session resumed (require_ssl_reuse).
    let srv = tokio::task::spawn_blocking(|| {
        RealServer::start(ServerKind::Vsftpd, ServerOptions::tls(TlsMode::Explicit))
    })
    .await
    .unwrap();
    let mut plan = CheckPlan::new("127.0.0.1", srv.port, Mode::Passive);
    (plan.username, plan.password) = (srv.user.clone(), Secret::new(srv.password.clone()));
    plan.tls.mode = TlsMode::Explicit;
    plan.tls.ca_file = Some(srv.ca_pem.clone());
    plan.timeout = Duration::from_secs(10);
    let o = check::run(&plan, &env).await;
    assert!(o.success(), "{}\n{}", o.transcript, srv.log());
    let (l, doc) = draw(&o);
    let tls = l.arrows.iter().find(|a| a.kind == ArrowKind::Tls).expect("a TLS arrow");
    assert!(tls.label.starts_with("TLS handshake: TLSv1.3, "), "{}", tls.label);
    assert!(l.bands.iter().any(|b| b.phase == Phase::Tls));
    assert_eq!(data(&l)[0].details.last().map(String::as_str), Some("TLS session resumed"));
    let tls_node = doc.descendants().find(|n| n.attribute("data-kind") == Some("tls")).unwrap();
    assert_eq!(tls_node.descendants().filter(|n| n.attribute("class") == Some("head")).count(), 2);

    // The seed's "login works but ls hangs": PORT accepted, no connection back.
    let firewalled = FaultServer::start(Script::new().active(ActiveFault::NeverConnect)).await;
    let mut plan = CheckPlan::new(firewalled.host(), firewalled.port(), Mode::Active);
    plan.timeout = Duration::from_secs(1);
    let o = check::run(&plan, &env).await;
    assert_eq!(o.failure.as_ref().map(|f| (f.phase, f.reason)), Some((Phase::DataConnect, Reason::Timeout)));
    let (l, doc) = draw(&o);
    let d = data(&l);
    assert!(d[0].from == Side::Server && !d[0].arrived && d[0].failed, "{:?}", d[0]);
    let mark = l.failure.as_ref().unwrap();
    assert_eq!(mark.title(), "data_connect / timeout");
    assert!(mark.lines.join(" ").contains("cannot open connections back"), "{:?}", mark.lines);
    let band = l.bands.iter().find(|b| b.failed).unwrap();
    assert!(
        band.phase == Phase::DataConnect && band.y0 <= mark.y && mark.y + mark.height() <= band.y1 + 0.01
    );
    let broken = doc.descendants().find(|n| n.attribute("data-kind") == Some("data")).unwrap();
    assert_eq!(broken.attribute("data-arrived"), Some("false"));
    assert!(broken.attribute("class").unwrap().split(' ').any(|c| c == "broken"));

    // A server behind NAT advertising 127.0.0.2 in 227: both addresses, marked.
    let nat =
        FaultServer::start(Script::new().pasv(PasvFault::Advertise("127.0.0.2".parse().unwrap()))).await;
    let mut plan = CheckPlan::new(nat.host(), nat.port(), Mode::Passive);
    plan.passive.epsv = Toggle::Never;
    let o = check::run(&plan, &env).await;
    assert!(o.success() && o.passive_address_mismatch == Some(true), "{}", o.transcript);
    let (l, doc) = draw(&o);
    assert!(l.mismatch);
    let d = data(&l);
    assert!(d[0].mismatch && d[0].label.starts_with("LIST data connection to 127.0.0.1:"), "{:?}", d[0]);
    assert!(d[0]
        .details
        .iter()
        .any(|x| x == "⚠ mismatch: 227 names 127.0.0.2, the control peer is 127.0.0.1"));
    assert!(doc.descendants().any(|n| n.attribute("class").is_some_and(|c| c.contains("mismatch"))));
}
