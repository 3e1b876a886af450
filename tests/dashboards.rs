//! `dashboards/` must only talk about metrics the exporter exports (the
//! ones in docs/metrics.md, which `tests/docs.rs` holds against a real
//! scrape): a dashboard or alert that names a metric nobody exports shows
//! "No data" or never fires, and nobody notices until the night it was needed.
//! The alert rules are checked and unit-tested by promtool itself; the
//! dashboard's queries are parsed by promtool too (as recording rules), and
//! its metric names, data source and layout are checked here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[path = "support/reference.rs"]
mod reference;
use reference::{documented_metrics, queryable_series};

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_file(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

fn dashboard() -> Value {
    serde_json::from_str(&read("dashboards/ftp-exporter.json")).expect("dashboard is valid JSON")
}

fn yaml(rel: &str) -> Value {
    serde_norway::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

// ---------------------------------------------------------------- promtool

/// Runs promtool; a missing promtool is a failure, never a skip (CI
/// installs it from Debian's `prometheus` package in ci/install-deps.sh).
fn promtool(args: &[&str], dir: &Path) -> String {
    let bin = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let out = Command::new(&bin).args(args).current_dir(dir).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `{bin}` ({e}): install promtool (Debian: `apt-get install -y prometheus`, \
             which ci/install-deps.sh does) or set PROMTOOL=/path/to/promtool"
        )
    });
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "`promtool {}` failed ({}):\n{text}", args.join(" "), out.status);
    text
}

#[test]
fn alert_rules_pass_promtool_check() {
    let out = promtool(&["check", "rules", "alerts.yml"], &repo_file("dashboards"));
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn alert_rules_pass_their_promtool_unit_tests() {
    let out = promtool(&["test", "rules", "alerts_test.yml"], &repo_file("dashboards"));
    assert!(out.contains("SUCCESS"), "{out}");
}

/// promtool parses every dashboard query: each becomes a recording rule
/// with Grafana's variables replaced by what Grafana would send.
#[test]
fn dashboard_queries_are_valid_promql() {
    let queries = dashboard_queries(&dashboard());
    let rules: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, (_, q))| serde_json::json!({ "record": format!("dashboard:query_{i}"), "expr": grafana_expand(q) }))
        .collect();
    let file = serde_json::json!({ "groups": [{ "name": "dashboard", "rules": rules }] });
    let dir = tempfile::tempdir().unwrap();
    // JSON is YAML, which promtool reads.
    std::fs::write(dir.path().join("dashboard_rules.yml"), file.to_string()).unwrap();
    let out = promtool(&["check", "rules", "dashboard_rules.yml"], dir.path());
    assert!(out.contains(&format!("SUCCESS: {} rules found", queries.len())), "{out}");
}

/// Grafana's interpolation, enough for promtool: interval variables become
/// durations, template variables (only used inside `=~"..."`) a regex.
fn grafana_expand(q: &str) -> String {
    let mut s = q
        .replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("${datasource}", "x");
    for var in ["${job}", "$job", "${instance}", "$instance", "${target}", "$target", "${mode}", "$mode"] {
        s = s.replace(var, ".*");
    }
    assert!(!s.contains('$'), "unexpanded variable in {q}");
    s
}

// ---------------------------------------------------------------- alerts

fn alert_rules() -> Vec<Value> {
    let doc = yaml("dashboards/alerts.yml");
    let groups = doc["groups"].as_array().expect("alerts.yml has groups");
    let rules: Vec<Value> =
        groups.iter().flat_map(|g| g["rules"].as_array().expect("group has rules").clone()).collect();
    assert!(!rules.is_empty());
    rules
}

#[test]
fn alert_rules_use_only_spec_metrics() {
    let allowed = queryable_series();
    let mut checked = 0;
    for rule in alert_rules() {
        let name = rule["alert"].as_str().expect("only alerting rules").to_string();
        let expr = rule["expr"].as_str().expect("rule has expr");
        let mut queries = vec![expr.to_string()];
        // Queries run by the annotation templates (`printf "..." | query`).
        for text in rule["annotations"].as_object().expect("annotations").values() {
            queries.extend(template_queries(text.as_str().unwrap()));
        }
        for q in queries {
            let names = metric_names(&q).unwrap_or_else(|e| panic!("{name}: {e} in {q}"));
            assert!(!names.is_empty(), "{name}: no metric in {q}");
            for m in names {
                assert!(allowed.contains(&m), "{name}: `{m}` is not in docs/metrics.md ({q})");
                checked += 1;
            }
        }
        assert!(rule["labels"]["severity"].is_string(), "{name} has no severity");
        for key in ["summary", "description"] {
            assert!(rule["annotations"][key].is_string(), "{name} has no {key}");
        }
    }
    assert!(checked >= 10, "only {checked} metric references found");
    // Prose too: any ftp_* word in the file must be a documented metric.
    let families: BTreeSet<String> = documented_metrics().into_keys().collect();
    for word in ftp_words(&read("dashboards/alerts.yml")) {
        assert!(
            allowed.contains(&word) || families.contains(&word) || word == "ftp_exporter",
            "alerts.yml mentions `{word}`, not a docs/metrics.md metric"
        );
    }
}

/// Every alert has a promtool case where it fires and one where it must not,
/// so a rule edited into "never fires" or "always fires" is caught.
#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let alerts: BTreeSet<String> =
        alert_rules().iter().map(|r| r["alert"].as_str().unwrap().to_string()).collect();
    let tests = yaml("dashboards/alerts_test.yml");
    let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for t in tests["tests"].as_array().expect("tests") {
        for case in t["alert_rule_test"].as_array().into_iter().flatten() {
            let name = case["alertname"].as_str().unwrap().to_string();
            assert!(alerts.contains(&name), "alerts_test.yml tests unknown alert {name}");
            let exp = case["exp_alerts"].as_array().map(Vec::len).unwrap_or(0);
            let e = seen.entry(name).or_default();
            if exp > 0 {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
    }
    for a in &alerts {
        let (firing, quiet) = seen.get(a).copied().unwrap_or_default();
        assert!(firing > 0, "{a}: no test where it fires");
        assert!(quiet > 0, "{a}: no test where it stays quiet");
    }
}

/// The PromQL inside `printf "ftp_check_failure{target=%q}" ... | query`.
fn template_queries(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("printf \"") {
        let body = &rest[i + 8..];
        let mut end = 0;
        let bytes = body.as_bytes();
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        out.push(body[..end].replace("\\\"", "\"").replace("%q", "\"x\""));
        rest = &body[end.min(body.len())..];
    }
    out
}

/// Words starting with `ftp_` (metric-like tokens in prose).
fn ftp_words(text: &str) -> BTreeSet<String> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.split(|c: char| !is_word(c)).filter(|w| w.starts_with("ftp_")).map(String::from).collect()
}

// ---------------------------------------------------------------- dashboard

/// Every panel, including those inside collapsed rows.
fn all_panels(dash: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        out.push(p);
        for inner in p["panels"].as_array().into_iter().flatten() {
            out.push(inner);
        }
    }
    out
}

/// (where, query): every `expr` anywhere (panels, annotations) and every
/// query variable's selector.
fn dashboard_queries(dash: &Value) -> Vec<(String, String)> {
    fn walk(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "expr" {
                        out.push((path.to_string(), v.as_str().expect("expr is a string").to_string()));
                    } else {
                        walk(v, &format!("{path}.{k}"), out);
                    }
                }
            }
            Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{path}[{i}]"), out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dash, "", &mut out);
    for var in dash["templating"]["list"].as_array().expect("templating") {
        if var["type"] == "query" {
            let q = var["query"]["query"].as_str().or(var["query"].as_str()).expect("variable query");
            out.push((format!("variable {}", var["name"]), label_values_selector(q).to_string()));
        }
    }
    out
}

/// `label_values(ftp_up{target=~"$target"}, mode)` → `ftp_up{target=~"$target"}`.
fn label_values_selector(q: &str) -> &str {
    let inner = q
        .trim()
        .strip_prefix("label_values(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("variable query is not label_values(selector, label): {q}"));
    inner.rsplit_once(',').map(|(sel, _)| sel.trim()).expect("label_values has a label")
}

#[test]
fn dashboard_queries_use_only_spec_metrics() {
    let allowed = queryable_series();
    let queries = dashboard_queries(&dashboard());
    assert!(queries.len() >= 20, "only {} queries found", queries.len());
    let mut used = BTreeSet::new();
    for (at, q) in &queries {
        let names = metric_names(q).unwrap_or_else(|e| panic!("{at}: {e} in {q}"));
        assert!(!names.is_empty(), "{at}: no metric in {q}");
        for m in names {
            assert!(allowed.contains(&m), "{at}: `{m}` is not in docs/metrics.md ({q})");
            used.insert(m);
        }
    }
    // The panels the brief asks for are there, by the metric they show.
    for m in [
        "ftp_up",
        "ftp_check_failure",
        "ftp_check_duration_seconds",
        "ftp_phase_duration_seconds",
        "ftp_check_failures_total",
        "ftp_last_success_timestamp_seconds",
        "ftp_passive_address_mismatch",
        "ftp_tls_certificate_expiry_timestamp_seconds",
        "ftp_transfer_bytes",
        "ftp_check_latency_seconds_bucket",
        "ftp_exporter_config_last_reload_successful",
        "ftp_exporter_targets",
        "ftp_exporter_checks_in_flight",
        "ftp_exporter_schedule_delay_seconds_bucket",
    ] {
        assert!(used.contains(m), "no dashboard query uses {m}");
    }
    // Titles, descriptions and the text panel name only documented metrics too.
    let families: BTreeSet<String> = documented_metrics().into_keys().collect();
    for word in ftp_words(&read("dashboards/ftp-exporter.json")) {
        assert!(
            allowed.contains(&word) || families.contains(&word) || word == "ftp_exporter",
            "the dashboard mentions `{word}`, not a docs/metrics.md metric"
        );
    }
}

#[test]
fn dashboard_uses_the_datasource_variable_and_has_the_variables() {
    let dash = dashboard();
    assert!(dash["schemaVersion"].as_u64().expect("schemaVersion") >= 36);
    let vars: BTreeMap<&str, &Value> = dash["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .map(|v| (v["name"].as_str().expect("variable name"), v))
        .collect();
    let ds = vars.get("datasource").expect("variable datasource");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    let var_ds = serde_json::json!({ "type": "prometheus", "uid": "${datasource}" });
    // job and instance first, so several exporters (shards, sites) show side by side.
    let order: Vec<&str> =
        dash["templating"]["list"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(order, ["datasource", "job", "instance", "target", "mode"]);
    for (name, metric) in [
        ("job", "ftp_exporter_build_info"),
        ("instance", "ftp_exporter_build_info"),
        ("target", "ftp_up"),
        ("mode", "ftp_up"),
    ] {
        let v = vars.get(name).unwrap_or_else(|| panic!("variable {name}"));
        assert_eq!(v["type"], "query", "{name}");
        assert_eq!(v["multi"], true, "{name} is multi-value");
        assert_eq!(v["includeAll"], true, "{name} includes All");
        assert_eq!(v["datasource"], var_ds, "{name} queries the datasource variable");
        let q = v["query"]["query"].as_str().or(v["query"].as_str()).unwrap();
        assert!(q.starts_with(&format!("label_values({metric}")), "{name}: {q}");
        assert!(q.ends_with(&format!(", {name})")), "{name}: {q}");
    }
    let mut with_queries = 0;
    for p in all_panels(&dash) {
        let title = p["title"].as_str().unwrap_or("?");
        let targets = p["targets"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        if !targets.is_empty() {
            with_queries += 1;
            assert_eq!(p["datasource"], var_ds, "panel {title:?} must use ${{datasource}}");
        } else {
            assert!(p["datasource"].is_null() || p["datasource"] == var_ds, "panel {title:?}");
        }
        for t in targets {
            assert!(t["datasource"].is_null() || t["datasource"] == var_ds, "a query of {title:?}");
        }
        if let Some(r) = p["repeat"].as_str() {
            assert!(vars.contains_key(r), "panel {title:?} repeats over unknown variable {r}");
        }
    }
    assert!(with_queries >= 15, "only {with_queries} panels with queries");
    for a in dash["annotations"]["list"].as_array().into_iter().flatten() {
        if a["expr"].is_string() {
            assert_eq!(a["datasource"], var_ds, "annotation {}", a["name"]);
        }
    }
}

/// Every selector of an exporter metric filters on the job and instance
/// variables (and FTP ones on target), so picking one exporter of several
/// narrows every panel.
#[test]
fn every_query_filters_on_job_and_instance() {
    let mut checked = 0;
    for (at, q) in dashboard_queries(&dashboard()) {
        // The job and instance variables are what the others filter by.
        if at == r#"variable "job""# || at == r#"variable "instance""# {
            continue;
        }
        for (name, matchers) in selectors(&q) {
            if !(name.starts_with("ftp_") || name.starts_with("process_")) {
                continue;
            }
            for m in [r#"job=~"$job""#, r#"instance=~"$instance""#] {
                assert!(matchers.contains(m), "{at}: {name} lacks {m} in {q}");
            }
            let per_target = name.starts_with("ftp_") && !name.starts_with("ftp_exporter_");
            if per_target && !at.starts_with("variable \"target\"") {
                assert!(
                    matchers.contains(r#"target=~"$target""#),
                    "{at}: {name} lacks the target filter in {q}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 35, "only {checked} selectors checked");
}

/// `(metric, "{matchers}")` of each selector in a query (metric names from
/// [`metric_names`]; matchers empty when the selector has none).
fn selectors(q: &str) -> Vec<(String, String)> {
    let names = metric_names(q).unwrap_or_else(|e| panic!("{e} in {q}"));
    let mut out = Vec::new();
    let mut rest = q;
    for name in names {
        let i = rest.find(&name).unwrap_or_else(|| panic!("{name} not in {rest}"));
        let after = &rest[i + name.len()..];
        let matchers = if after.starts_with('{') { &after[..after.find('}').unwrap() + 1] } else { "" };
        out.push((name.clone(), matchers.to_string()));
        rest = &after[matchers.len()..];
    }
    out
}

#[test]
fn dashboard_panel_ids_are_unique_and_panels_do_not_overlap() {
    let dash = dashboard();
    let mut ids = BTreeSet::new();
    for p in all_panels(&dash) {
        let id = p["id"].as_u64().unwrap_or_else(|| panic!("panel {} has no id", p["title"]));
        assert!(ids.insert(id), "panel id {id} is used twice");
    }
    // Grafana's grid is 24 wide; overlapping panels are silently moved.
    let rects: Vec<(u64, u64, u64, u64, &str)> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let g = &p["gridPos"];
            let n = |k: &str| g[k].as_u64().unwrap_or_else(|| panic!("{} gridPos.{k}", p["title"]));
            (n("x"), n("y"), n("w"), n("h"), p["title"].as_str().unwrap_or("?"))
        })
        .collect();
    for (i, a) in rects.iter().enumerate() {
        assert!(a.0 + a.2 <= 24, "panel {:?} is wider than the grid", a.4);
        for b in &rects[i + 1..] {
            let apart = a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
            assert!(apart, "panels {:?} and {:?} overlap", a.4, b.4);
        }
    }
}

// ---------------------------------------------------------------- PromQL names

/// The metric names a PromQL expression selects. Not a full parser (promtool
/// checks syntax): it skips strings, label matchers `{...}`, ranges `[...]`,
/// Grafana variables, numbers and durations, function names (followed by
/// `(`), aggregation operators, keywords and the label lists after
/// by/without/on/ignoring/group_left/group_right. What is left are metric
/// names.
fn metric_names(expr: &str) -> Result<Vec<String>, String> {
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "atan2",
        "inf",
        "nan",
        "sum",
        "avg",
        "count",
        "min",
        "max",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
        "limitk",
        "limit_ratio",
    ];
    const LABEL_LIST: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
    let c: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    let skip_until = |i: usize, close: char| -> Result<usize, String> {
        let mut j = i + 1;
        while j < c.len() && c[j] != close {
            if matches!(c[j], '"' | '\'' | '`') {
                j = skip_string(&c, j)?;
            } else {
                j += 1;
            }
        }
        if j >= c.len() {
            return Err(format!("unclosed {}", c[i]));
        }
        Ok(j + 1)
    };
    while i < c.len() {
        let ch = c[i];
        if matches!(ch, '"' | '\'' | '`') {
            i = skip_string(&c, i)?;
        } else if ch == '{' {
            i = skip_until(i, '}')?;
        } else if ch == '[' {
            i = skip_until(i, ']')?;
        } else if ch == '$' {
            i += 1;
            if c.get(i) == Some(&'{') {
                i = skip_until(i, '}')?;
            }
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch.is_ascii_digit() || (ch == '.' && c.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == '.') {
                i += 1;
            }
        } else if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == ':') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let mut next = i;
            while next < c.len() && c[next].is_whitespace() {
                next += 1;
            }
            let lower = word.to_ascii_lowercase();
            if LABEL_LIST.contains(&lower.as_str()) {
                if c.get(next) == Some(&'(') {
                    i = skip_until(next, ')')?;
                }
            } else if KEYWORDS.contains(&lower.as_str()) || c.get(next) == Some(&'(') {
                // operator, keyword or function name
            } else {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    Ok(names)
}

fn skip_string(c: &[char], start: usize) -> Result<usize, String> {
    let quote = c[start];
    let mut j = start + 1;
    while j < c.len() && c[j] != quote {
        j += if c[j] == '\\' && quote != '`' { 2 } else { 1 };
    }
    if j >= c.len() {
        return Err("unclosed string".into());
    }
    Ok(j + 1)
}

#[test]
fn metric_name_extraction_finds_metrics_and_only_metrics() {
    let q = r#"histogram_quantile(0.9, sum by (target, le) (rate(ftp_check_latency_seconds_bucket{mode=~"$mode",x="a}b"}[$__rate_interval])))
        / on (target) group_left (address) ftp_target_info offset 5m and ignoring(mode) ftp_up > 1e3"#;
    assert_eq!(metric_names(q).unwrap(), ["ftp_check_latency_seconds_bucket", "ftp_target_info", "ftp_up"],);
    assert_eq!(metric_names("sum(x) without (le) or vector(0) unless count(y)").unwrap(), ["x", "y"]);
    // A name outside docs/metrics.md is seen, so the allow-list check can fail.
    let names = metric_names("node_load1 and on(instance) ftp_up").unwrap();
    assert_eq!(names, ["node_load1", "ftp_up"]);
    assert!(!queryable_series().contains("node_load1"));
    // A histogram's bare family name is not a series.
    assert!(!queryable_series().contains("ftp_check_latency_seconds"));
    assert!(metric_names("ftp_up{target=\"x").is_err());
    assert_eq!(
        label_values_selector(r#"label_values(ftp_up{target=~"$target"}, mode)"#),
        r#"ftp_up{target=~"$target"}"#
    );
    assert_eq!(
        template_queries(
            r#"{{ with printf "ftp_check_failure{target=%q,mode=\"active\"}" $labels.target | query }}"#
        ),
        [r#"ftp_check_failure{target="x",mode="active"}"#],
    );
}

// ---------------------------------------------------------------- query semantics

/// The query of the panel titled `title`, with refId `ref_id`.
fn panel_query(dash: &Value, title: &str, ref_id: &str) -> String {
    let p = all_panels(dash).into_iter().find(|p| p["title"] == title).unwrap_or_else(|| panic!("{title}"));
    let t = p["targets"].as_array().unwrap().iter().find(|t| t["refId"] == ref_id).expect("refId");
    grafana_expand(t["expr"].as_str().unwrap())
}

/// The trickier panel queries, run by promtool on made-up series: a query
/// that parses but shows the wrong number would pass every check above.
/// Each case: input series (promtool notation), eval time, expected samples.
#[test]
fn dashboard_queries_compute_what_their_titles_say() {
    let dash = dashboard();
    let q = |title: &str, r: &str| panel_query(&dash, title, r);
    let sample = |labels: &str, value: f64| serde_json::json!({ "labels": labels, "value": value });
    let cases = vec![
        (
            q("Checks failing", "A"),
            vec![
                (r#"ftp_up{target="a",mode="passive"}"#, "0x10"),
                (r#"ftp_up{target="a",mode="active"}"#, "1x10"),
                (r#"ftp_up{target="b",mode="passive"}"#, "0x10"),
            ],
            "5m",
            vec![sample("{}", 2.0)],
        ),
        // Nothing failing is 0, not "No data".
        (
            q("Checks failing", "A"),
            vec![(r#"ftp_up{target="a",mode="passive"}"#, "1x10")],
            "5m",
            vec![sample("{}", 0.0)],
        ),
        // A mode that never failed has no ftp_check_failures_total series
        // and must still show 100%.
        (
            q("Check success ratio", "A"),
            vec![
                (r#"ftp_checks_total{target="a",mode="passive"}"#, "0+6x30"),
                (
                    r#"ftp_check_failures_total{target="a",mode="passive",phase="login",reason="auth_failed"}"#,
                    "0+2x30",
                ),
                (
                    r#"ftp_check_failures_total{target="a",mode="passive",phase="connect",reason="timeout"}"#,
                    "0+1x30",
                ),
                (r#"ftp_checks_total{target="a",mode="active"}"#, "0+6x30"),
            ],
            "20m",
            vec![sample(r#"{target="a",mode="passive"}"#, 0.5), sample(r#"{target="a",mode="active"}"#, 1.0)],
        ),
        (
            q("Failures by phase and reason", "A"),
            vec![(
                r#"ftp_check_failures_total{target="a",mode="active",phase="data_connect",reason="timeout"}"#,
                "0+3x30",
            )],
            "20m",
            vec![sample(r#"{target="a",mode="active",phase="data_connect",reason="timeout"}"#, 3.0)],
        ),
        (
            q("TLS certificate: days to expiry", "A"),
            vec![(r#"ftp_tls_certificate_expiry_timestamp_seconds{target="a"}"#, "1728600x20")],
            "10m",
            vec![sample(r#"{target="a"}"#, 20.0)],
        ),
        // Only the exporter's own process, not every job's.
        (
            q("Exporter memory", "A"),
            vec![
                (r#"process_resident_memory_bytes{job="ftp",instance="e:9612"}"#, "1000x10"),
                (r#"process_resident_memory_bytes{job="node",instance="n:9100"}"#, "9999x10"),
                (r#"ftp_exporter_build_info{job="ftp",instance="e:9612",version="0.1.0"}"#, "1x10"),
            ],
            "5m",
            vec![sample(r#"process_resident_memory_bytes{job="ftp",instance="e:9612"}"#, 1000.0)],
        ),
        (
            q("Schedule delay (how late checks start)", "C"),
            vec![
                (r#"ftp_exporter_schedule_delay_seconds_sum{instance="e"}"#, "0+16x30"),
                (r#"ftp_exporter_schedule_delay_seconds_count{instance="e"}"#, "0+8x30"),
            ],
            "20m",
            vec![sample(r#"{instance="e"}"#, 2.0)],
        ),
    ];
    let tests: Vec<Value> = cases
        .into_iter()
        .map(|(expr, series, at, exp)| {
            let input: Vec<Value> =
                series.iter().map(|(s, v)| serde_json::json!({ "series": s, "values": v })).collect();
            serde_json::json!({
                "interval": "1m",
                "input_series": input,
                "promql_expr_test": [{ "expr": expr, "eval_time": at, "exp_samples": exp }],
            })
        })
        .collect();
    let n = tests.len();
    let file = serde_json::json!({ "rule_files": [], "evaluation_interval": "1m", "tests": tests });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("queries_test.yml"), file.to_string()).unwrap();
    let out = promtool(&["test", "rules", "queries_test.yml"], dir.path());
    assert!(out.contains("SUCCESS"), "{n} cases: {out}");
}

// ---------------------------------------------------------------- end to end

/// A child process killed when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET over HTTP/1.0 (no client crate needed), body as JSON.
fn get_json(port: u16, path_and_query: &str) -> Result<Value, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    write!(s, "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).ok_or("no HTTP body")?;
    serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))
}

/// Instant query through Prometheus' HTTP API; the result vector.
fn prom_query(port: u16, expr: &str) -> Vec<Value> {
    let q: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
    let v = get_json(port, &format!("/api/v1/query?query={q}")).unwrap_or_else(|e| panic!("{expr}: {e}"));
    assert_eq!(v["status"], "success", "{expr}: {v}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// The real exporter (`ftp_exporter demo`: an in-process FTP server with one
/// healthy target and one whose password is wrong, both modes, on loopback)
/// scraped by a real Prometheus that loads alerts.yml. Every dashboard
/// query must return data (except TLS: the demo has no FTPS target), and
/// the wrong password must put FtpCheckFailing into pending for both modes
/// with the failing phase and reason in its description, and nothing else.
#[test]
fn dashboard_and_alerts_work_on_the_real_exporter_scraped_by_prometheus() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let exporter_port = free_port();
    let _exporter = Child(
        Command::new(env!("CARGO_BIN_EXE_ftp_exporter"))
            .args(["demo", &format!("--web.listen-address=127.0.0.1:{exporter_port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ftp_exporter demo"),
    );
    let dir = tempfile::tempdir().unwrap();
    let prom_port = free_port();
    let config = serde_json::json!({
        "global": { "scrape_interval": "1s", "evaluation_interval": "1s" },
        "rule_files": [repo_file("dashboards/alerts.yml")],
        "scrape_configs": [{
            "job_name": "ftp",
            "static_configs": [{ "targets": [format!("127.0.0.1:{exporter_port}")] }],
        }],
    });
    std::fs::write(dir.path().join("prometheus.yml"), config.to_string()).unwrap();
    let bin = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
    let _prometheus = Child(
        Command::new(&bin)
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{bin}` ({e}): install Prometheus (Debian: `apt-get install -y prometheus`, \
                     which ci/install-deps.sh does) or set PROMETHEUS=/path/to/prometheus"
                )
            }),
    );

    // Every target x mode checked, and one more scrape after that so rates
    // have two samples. The demo's interval is 10s.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = get_json(prom_port, "/api/v1/query?query=count(ftp_checks_total%3E0)")
            .ok()
            .and_then(|v| v["data"]["result"][0]["value"][1].as_str().map(|s| s == "4"))
            .unwrap_or(false);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus never saw 4 checked target x mode pairs");
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));

    let mut empty = Vec::new();
    let queries = dashboard_queries(&dashboard());
    for (at, q) in &queries {
        let expr = grafana_expand(q).replace("[5m]", "[1m]");
        let no_data_expected = q.contains("ftp_tls_certificate_expiry_timestamp_seconds") // no FTPS in the demo
            || at.starts_with(".annotations"); // no reload since start
        if prom_query(prom_port, &expr).is_empty() && !no_data_expected {
            empty.push(format!("{at}: {expr}"));
        }
    }
    assert!(empty.is_empty(), "dashboard queries without data on the real exporter:\n{}", empty.join("\n"));

    // Alerts: the wrong password is pending (for: 5m) in both modes.
    let alerts = get_json(prom_port, "/api/v1/alerts").unwrap();
    let active: Vec<&Value> = alerts["data"]["alerts"].as_array().unwrap().iter().collect();
    let mut seen: Vec<(String, String, String)> = active
        .iter()
        .map(|a| {
            let l = &a["labels"];
            let s = |k: &str| l[k].as_str().unwrap_or("").to_string();
            (s("alertname"), s("target"), s("mode"))
        })
        .collect();
    seen.sort();
    let want =
        |mode: &str| ("FtpCheckFailing".to_string(), "demo-wrong-password".to_string(), mode.to_string());
    assert_eq!(seen, [want("active"), want("passive")], "{alerts}");
    for a in active {
        let d = a["annotations"]["description"].as_str().unwrap();
        assert!(d.contains(r#"phase=login reason=auth_failed code="530""#), "{d}");
    }
    let rules = get_json(prom_port, "/api/v1/rules").unwrap();
    for g in rules["data"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            assert_eq!(r["health"], "ok", "rule {} on real data: {r}", r["name"]);
        }
    }
}
