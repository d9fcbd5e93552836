//! Extreme and malformed values at every server function's parameters, at the WebSocket
//! routes' path parameters and at the pages' path and query parameters, over real HTTP, as
//! each kind of user. Nothing may answer 500 or above (most answers are 400, 401, 403, 404
//! or 409; a few functions take any text, a search for one, and answer 200) and the server
//! must never panic: a panic hook counts panics on the server's threads (a panicking handler
//! also drops its connection, which fails the request) and `/health` must answer at the end.
//!
//! The server functions and their parameters are read from `app/src/*/api.rs` (a struct
//! parameter's fields from `lab::model`'s sources), so a new function is fuzzed without
//! anyone listing it here.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// Each test's runtime names its threads `fuzz-<test>`, so that the panic hook counts the
/// panics of that test's server only (the tests of this binary run side by side).
static SERVER_PANICS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

fn count_server_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(name) = std::thread::current().name()
                && name.starts_with("fuzz-")
            {
                let mut panics = SERVER_PANICS.lock().unwrap_or_else(|e| e.into_inner());
                *panics.entry(name.to_owned()).or_default() += 1;
            }
            previous(info);
        }));
    });
}

/// A harmless, well-formed value for a field, so that the one extreme value of a request
/// gets past the parsing of the others: ids of nothing, VM 100, the least a form needs.
fn benign(field: &str) -> &'static str {
    let name = field
        .rsplit('[')
        .next()
        .unwrap_or(field)
        .trim_end_matches(']');
    match name {
        "vmid" => "100",
        "action" => "start",
        "role" => "student",
        "page" | "since" => "0",
        "open" | "enabled" | "disabled" => "false",
        // The dashboard's filters: empty is "any" (a name nobody has would end the query
        // before the page is read).
        "node" | "status" | "owner" | "q" => "",
        "id" | "cluster" => "4242",
        n if n.ends_with("_id") => "4242",
        _ => "x",
    }
}

/// Values that break naive parsing or arithmetic: integer extremes and their neighbours,
/// VMIDs just outside Proxmox's range, floats, empty, blanks, other types' syntax, control
/// and unusual Unicode, injection-shaped text.
const EXTREMES: &[&str] = &[
    "-2147483648",
    "2147483647",
    "-2147483649",
    "2147483648",
    "2147483600",
    "-9223372036854775808",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "-18446744073709551615",
    "-1",
    "0",
    "-0",
    "99",
    "1000000000",
    "+2147483647",
    "1e309",
    "1.5",
    "NaN",
    "-inf",
    "0x7fffffff",
    "",
    " ",
    "true",
    "null",
    "[]",
    "{}",
    "\u{0}",
    "%00",
    "\r\n",
    "é",
    "🦀",
    "١٢٣",
    "１２３",
    "\u{202e}",
    "' OR 1=1 --",
    "../../../etc/passwd",
    "<script>alert(1)</script>",
];

/// A server function: its path and its form fields (`form[name]` for a struct's fields).
#[derive(Clone, Debug)]
struct Function {
    path: String,
    fields: Vec<String>,
}

/// Read at run time, not with `env!`: a test binary another clone built (clones share the
/// target directory) would name that clone's sources.
fn workspace() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test");
    Path::new(&manifest).parent().unwrap().to_owned()
}

/// `pub struct Name { pub field: … }` of every file in `lab::model`: name → fields.
fn model_structs() -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    let dir = workspace().join("server/lab/src/model");
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for chunk in text.split("pub struct ").skip(1) {
            let Some((name, body)) = chunk.split_once(" {") else {
                continue;
            };
            let body = body.split("\n}").next().unwrap_or("");
            let fields = body
                .lines()
                .filter_map(|l| l.trim().strip_prefix("pub "))
                .filter_map(|l| l.split_once(':').map(|(f, _)| f.trim().to_owned()))
                .collect();
            out.insert(name.trim().to_owned(), fields);
        }
    }
    out
}

/// Every `#[server(endpoint = "…")]` function of `app/src/*/api.rs`.
fn server_functions() -> Vec<Function> {
    let structs = model_structs();
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(workspace().join("app/src"))
        .unwrap()
        .map(|e| e.unwrap().path().join("api.rs"))
        .filter(|p| p.exists())
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for chunk in text.split("#[server(endpoint = \"").skip(1) {
            let endpoint = chunk.split('"').next().unwrap();
            let signature = chunk.split_once("pub async fn ").unwrap().1;
            let signature = signature.split("->").next().unwrap();
            let params =
                &signature[signature.find('(').unwrap() + 1..signature.rfind(')').unwrap()];
            let mut fields = Vec::new();
            for param in params.replace("#[server(default)]", "").split(',') {
                let Some((name, ty)) = param.split_once(':') else {
                    continue;
                };
                let (name, ty) = (name.trim(), ty.trim());
                let inner = ty
                    .strip_prefix("Option<")
                    .and_then(|t| t.strip_suffix('>'))
                    .unwrap_or(ty);
                match structs.get(inner) {
                    Some(members) => fields.extend(members.iter().map(|m| format!("{name}[{m}]"))),
                    None => fields.push(name.to_owned()),
                }
            }
            out.push(Function {
                path: format!("/api/{endpoint}"),
                fields,
            });
        }
    }
    out
}

/// A portal with pvesim's cluster, its rate limits out of the way (this is about values, not
/// volume), and an admin, a teacher and a student signed in. The runtime must outlive it.
struct Fuzz {
    /// The runtime's thread name.
    threads: String,
    s: Server,
    _sim: pvesim::Sim,
    _dir: tempfile::TempDir,
    cluster: i32,
    /// Admin, teacher, student.
    cookies: [String; 3],
}

/// `test` names the runtime the portal runs on (see [`runtime`]).
async fn fuzz_portal(test: &str) -> Fuzz {
    let threads = threads(test);
    let s = start_with(|settings| {
        settings.limits.api_per_second = 1_000_000;
        settings.limits.api_burst = 1_000_000;
        settings.limits.sockets_per_minute = 1_000_000;
        settings.limits.sockets_burst = 1_000_000;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sim = pvesim::Sim::start(pvesim::SimConfig::for_tests(dir.path())).unwrap();
    let cluster = lab::clusters::create(
        &s.services,
        &lab::model::ClusterForm::with_token("lab", &sim.url(), sim.fingerprint(), &sim.token())
            .unwrap(),
    )
    .await
    .unwrap();
    let row = lab::clusters::find(&s.services, cluster.id).await.unwrap();
    lab::sync::quick::run(&s.services, &row).await.unwrap();
    s.add_user("ada", Role::Admin).await;
    s.add_user("tess", Role::Teacher).await;
    s.add_user("sam", Role::Student).await;
    lab::inventory::assign(&s.services, cluster.id, 100, "sam")
        .await
        .unwrap();
    let cookies = [
        s.login("ada").await,
        s.login("tess").await,
        s.login("sam").await,
    ];
    Fuzz {
        threads,
        s,
        _sim: sim,
        _dir: dir,
        cluster: cluster.id,
        cookies,
    }
}

fn threads(test: &str) -> String {
    format!("fuzz-{test}")
}

/// A runtime whose threads are named after `test`.
fn runtime(test: &str) -> tokio::runtime::Runtime {
    count_server_panics();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(threads(test))
        .enable_all()
        .build()
        .unwrap()
}

impl Fuzz {
    /// `None` for "signed out"; sign-out itself is always sent signed out (it would end the
    /// session the other requests use).
    fn cookie(&self, who: usize, path: &str) -> Option<&str> {
        (path != "/api/auth/logout")
            .then(|| self.cookies.get(who).map(String::as_str))
            .flatten()
    }

    /// Posts `values` to `f`'s fields (a benign value where there is `None`); the status,
    /// or why there was none.
    async fn call(
        &self,
        f: &Function,
        who: usize,
        values: &[Option<String>],
    ) -> Result<u16, String> {
        let form: Vec<(&str, &str)> = f
            .fields
            .iter()
            .zip(values.iter().chain(std::iter::repeat(&None)))
            .map(|(k, v)| (k.as_str(), v.as_deref().unwrap_or(benign(k))))
            .collect();
        let mut req = self
            .s
            .http
            .post(format!("{}{}", self.s.url, f.path))
            .form(&form);
        if let Some(c) = self.cookie(who, &f.path) {
            req = req.header("cookie", c);
        }
        let res = req
            .send()
            .await
            .map_err(|e| format!("POST {}: no answer ({})", f.path, lab::pve::chain_text(&e)))?;
        Ok(res.status().as_u16())
    }

    /// A GET of `segments` (each one percent-encoded) with `query`, as a page load or as a
    /// same-site WebSocket upgrade.
    async fn get(
        &self,
        segments: &[&str],
        query: Option<(&str, &str)>,
        who: usize,
        upgrade: bool,
    ) -> Result<u16, String> {
        let mut url = url::Url::parse(&self.s.url).unwrap();
        url.path_segments_mut()
            .unwrap()
            .pop_if_empty()
            .extend(segments);
        if let Some((k, v)) = query {
            url.query_pairs_mut().append_pair(k, v);
        }
        let mut req = self.s.http.get(url.as_str());
        req = if upgrade {
            req.header("origin", &self.s.url)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
                .header("sec-websocket-protocol", "binary")
        } else {
            req.header("accept", "text/html")
        };
        if let Some(c) = self.cookies.get(who) {
            req = req.header("cookie", c);
        }
        let res = req
            .send()
            .await
            .map_err(|e| format!("GET {url}: no answer ({})", lab::pve::chain_text(&e)))?;
        Ok(res.status().as_u16())
    }

    /// The server still answers and none of its threads panicked.
    async fn still_well(&self) {
        let panics = SERVER_PANICS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&self.threads)
            .copied();
        assert_eq!(panics, None, "the server panicked");
        assert_eq!(self.s.get("/health", None).await.status, 200);
    }
}

fn below_500(what: &str, status: Result<u16, String>) -> Result<(), String> {
    match status {
        Ok(s) if s < 500 => Ok(()),
        Ok(s) => Err(format!("{what}: {s}")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// The overflows found from outside, one by one: a VMID of `i32::MIN` on the console info,
/// the power action and the three sockets (as a teacher, whose access check did VMID
/// arithmetic), and `filter[page] = u64::MAX` on the admin's dashboard. Clear 400s (the
/// sockets refuse before the upgrade), no panic.
#[test]
fn the_overflows_found_from_outside_are_clear_refusals() {
    let rt = runtime("overflows");
    rt.block_on(async {
        let f = fuzz_portal("overflows").await;
        let (admin, teacher) = (Some(f.cookies[0].as_str()), Some(f.cookies[1].as_str()));
        let cluster = f.cluster.to_string();
        for vmid in ["-2147483648", "2147483647", "0", "1000000000"] {
            let form = [
                ("cluster_id", cluster.as_str()),
                ("vmid", vmid),
                ("action", "start"),
            ];
            for path in ["/api/vms/console", "/api/vms/action"] {
                let r = f.s.post(path, teacher, &form).await;
                assert_eq!(r.status, 400, "{path} {vmid}: {}", r.body);
                assert!(r.body.contains("100 to 999999999"), "{}", r.body);
            }
            for kind in ["console", "terminal", "ssh"] {
                let status = f.get(&["ws", kind, &cluster, vmid], None, 1, true).await;
                assert_eq!(status, Ok(400), "{kind} {vmid}");
            }
        }
        let huge =
            f.s.post(
                "/api/vms",
                admin,
                &[("filter[page]", "18446744073709551615")],
            )
            .await;
        assert_eq!(huge.status, 400, "{}", huge.body);
        assert!(huge.body.contains("100000"), "{}", huge.body);
        let last =
            f.s.post("/api/vms", admin, &[("filter[page]", "100000")])
                .await;
        assert_eq!(last.status, 200, "{}", last.body);
        f.still_well().await;
    });
}

/// Every server function: each value of [`EXTREMES`] in each field in turn (the others
/// benign), as admin, teacher and student; then random values (proptest) in random fields,
/// signed out too.
#[test]
fn every_server_function_survives_extreme_and_malformed_values() {
    let functions = server_functions();
    assert!(functions.len() >= 40, "{functions:?}");
    for wanted in ["/api/vms/action", "/api/vms/console", "/api/classes/reset"] {
        assert!(functions.iter().any(|f| f.path == wanted), "{wanted}");
    }
    let vms = functions.iter().find(|f| f.path == "/api/vms").unwrap();
    assert!(vms.fields.contains(&"filter[page]".to_owned()), "{vms:?}");
    let rt = runtime("functions");
    let f = rt.block_on(fuzz_portal("functions"));

    // The sweep.
    let calls: Vec<(&Function, usize, usize, &str)> = functions
        .iter()
        .flat_map(|func| (0..func.fields.len()).map(move |field| (func, field)))
        .flat_map(|(func, field)| (0..3).map(move |who| (func, field, who)))
        .flat_map(|(func, field, who)| EXTREMES.iter().map(move |v| (func, field, who, *v)))
        .collect();
    rt.block_on(async {
        use futures_util::StreamExt;
        let failures: Vec<String> = futures_util::stream::iter(calls)
            .map(|(func, field, who, v)| {
                let f = &f;
                async move {
                    let mut values = vec![None; field];
                    values.push(Some(v.to_owned()));
                    let status = f.call(func, who, &values).await;
                    let what = format!("{} {}={v:?} as {who}", func.path, func.fields[field]);
                    below_500(&what, status).err()
                }
            })
            .buffer_unordered(4)
            .filter_map(|e| async move { e })
            .collect()
            .await;
        assert!(failures.is_empty(), "{failures:#?}");
        f.still_well().await;
    });

    // Random values: any integer, any Unicode text, long digit runs, in any of the fields.
    let value = prop_oneof![
        3 => prop::sample::select(EXTREMES).prop_map(str::to_owned),
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        3 => any::<String>(),
        1 => (1usize..6_000).prop_map(|n| "9".repeat(n)),
    ]
    // Small positive numbers could be real ids (deleting the signed-in users would leave
    // the rest of the run with nothing to reach): EXTREMES has 0 and the negatives.
    .prop_filter("not a small id", |v| {
        !v.trim()
            .parse::<i64>()
            .is_ok_and(|n| (1..=1000).contains(&n))
    });
    let case = (
        0..functions.len(),
        0..4usize,
        prop::collection::vec(prop::option::of(value), 1..20),
    );
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case, |(i, who, values)| {
        let func = &functions[i];
        let status = rt.block_on(f.call(func, who, &values));
        below_500(&format!("{} as {who} with {values:?}", func.path), status)
            .map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(f.still_well());
    drop(f);
}

/// A page: its path segments, and a query parameter.
type Page<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>);

/// The sockets' and the pages' path and query parameters.
#[test]
fn sockets_and_pages_survive_extreme_path_values() {
    let rt = runtime("paths");
    rt.block_on(async {
        let f = fuzz_portal("paths").await;
        let cluster = f.cluster.to_string();
        let mut failures = Vec::new();
        for v in EXTREMES {
            for who in 0..3 {
                for kind in ["console", "terminal", "ssh"] {
                    for (c, id) in [(cluster.as_str(), *v), (*v, "100"), (*v, *v)] {
                        let status = f.get(&["ws", kind, c, id], None, who, true).await;
                        if let Err(e) = below_500(&format!("/ws/{kind}/{c}/{id:?}"), status) {
                            failures.push(e);
                        }
                    }
                }
                let gets: [Page; 9] = [
                    (&["console", &cluster, v], None),
                    (&["terminal", v, v], None),
                    (&["ssh", &cluster, v], None),
                    (&["vm", &cluster, v, "rdp"], None),
                    (&["classes", v], None),
                    (&["join", v], None),
                    (&[""], Some(("page", v))),
                    (&["admin", "users"], Some(("search", v))),
                    (&["admin", "jobs"], Some(("state", v))),
                ];
                for (segments, query) in gets {
                    let status = f.get(segments, query, who, false).await;
                    if let Err(e) = below_500(&format!("GET {segments:?} {query:?}"), status) {
                        failures.push(e);
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        f.still_well().await;
    });
}
