//! Load with `wrk` (Debian's package), a C load generator much lighter than reqwest, so that
//! a figure says more about the portal than about the client sharing its cores. Each request
//! is the next client's dashboard poll (`POST /api/vms`, its own session), "no change" (the
//! form carries the client's current counter) or the full page.

/// One client of the dashboard: its session cookie and its current change counter.
pub struct Poller {
    pub cookie: String,
    pub counter: String,
}

impl Poller {
    /// A client's first poll of the dashboard at `url` (`…/api/vms`): the counter its next
    /// polls bring.
    pub async fn first_poll(http: &reqwest::Client, url: &str, cookie: String) -> Poller {
        let body = http
            .post(url)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let counter = body
            .split("\"counter\":")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap()
            .to_owned();
        Poller { cookie, counter }
    }
}

/// What a run measured.
pub struct Load {
    pub rate: f64,
    pub p50: String,
    pub p99: String,
    /// wrk's own line: requests, and those that were not the expected 200.
    pub summary: String,
}

/// Whether `wrk` can be run.
pub fn installed() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok()
}

/// `conns` keep-alive connections for `secs` seconds against `url`; `since` sends the
/// counter (the answer must then be `null`, "no change").
pub async fn run(url: &str, clients: &[Poller], since: bool, conns: usize, secs: u32) -> Load {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("polls.lua");
    let mut lua = String::from("local polls = {\n");
    for c in clients {
        let body = if since {
            format!("since={}", c.counter)
        } else {
            String::new()
        };
        lua.push_str(&format!("  {{ {:?}, {body:?} }},\n", c.cookie));
    }
    let expect = if since { "body ~= \"null\"" } else { "false" };
    lua.push_str(&format!(
        r#"}}
local i = 0
request = function()
  i = i % #polls + 1
  local p = polls[i]
  return wrk.format("POST", nil, {{ ["Cookie"] = p[1], ["Content-Type"] = "application/x-www-form-urlencoded" }}, p[2])
end
local other = 0
response = function(status, headers, body)
  if status ~= 200 or {expect} then other = other + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %d not the expected 200\n", summary.requests, other))
end
"#
    ));
    std::fs::write(&script, lua).unwrap();
    let out = tokio::process::Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    Load {
        rate: line("Requests/sec:")
            .trim_start_matches("Requests/sec:")
            .trim()
            .parse()
            .unwrap_or(0.0),
        p50: line("50%"),
        p99: line("99%"),
        summary: format!("{} {}", line("wrk:"), line("Non-2xx"))
            .trim()
            .to_owned(),
    }
}
