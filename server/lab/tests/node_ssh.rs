//! `lab::node::SshShell` against a real OpenSSH server (see `support/sshd.rs`): each test
//! starts its own sshd on a free port, so tests share no state and run in parallel.

#[path = "support/sshd.rs"]
mod sshd;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lab::node::{NodeError, Script, SshShell, SshTarget};
use sshd::Sshd;

async fn shell(sshd: &Sshd) -> SshShell {
    SshShell::connect(sshd.target())
        .await
        .expect("connects to the test sshd")
}

fn sh(script: &str) -> Script {
    Script::new().cmd(&["sh", "-c", script]).unwrap()
}

#[tokio::test]
async fn runs_a_script_and_returns_stdout() {
    let sshd = Sshd::start();
    let ssh = shell(&sshd).await;
    let out = ssh
        .run(&Script::new().cmd(&["echo", "hello"]).unwrap(), b"")
        .await
        .unwrap();
    assert_eq!(out, b"hello\n");
    let whoami = ssh
        .run(&Script::new().cmd(&["id", "-un"]).unwrap(), b"")
        .await
        .unwrap();
    assert_eq!(String::from_utf8(whoami).unwrap().trim(), sshd.user());
}

#[tokio::test]
async fn stdin_is_delivered_byte_exact() {
    let sshd = Sshd::start();
    let ssh = shell(&sshd).await;
    let file = sshd.scratch().join("in.bin");
    let file = file.to_str().unwrap();
    // Binary, with NULs, and larger than any pipe buffer (1 MiB out, 1 MiB in).
    let data: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 256) as u8).collect();
    let script = Script::new()
        .cmd_to_file(&["cat"], file)
        .unwrap()
        .cmd(&["cat", file])
        .unwrap();
    let out = ssh.run(&script, &data).await.unwrap();
    assert_eq!(out.len(), data.len());
    assert!(out == data, "stdin came back different");
    assert_eq!(std::fs::read(file).unwrap(), data);
}

#[tokio::test]
async fn hostile_arguments_arrive_as_single_exact_arguments() {
    let sshd = Sshd::start();
    let ssh = shell(&sshd).await;
    let pwned = sshd.scratch().join("pwned");
    let pwned = pwned.to_str().unwrap();
    let touch_quote = format!("'; touch {pwned} #");
    let touch_subst = format!("$(touch {pwned})");
    let touch_tick = format!("`touch {pwned}`");
    let args: Vec<&str> = vec![
        "'; rm -rf / #",
        "$(reboot)",
        &touch_quote,
        &touch_subst,
        &touch_tick,
        "a\nb",
        "line\r\nend\n",
        "ünïcødé ✓ 日本",
        "  spaces  around  ",
        "tab\there",
        "",
        "\"double\" 'single' \\back\\slash",
        "*",
        "~",
        "-n",
        "$HOME ${PATH} $$ $0",
        "; && || | > < & !",
    ];
    let mut argv = vec!["printf", "%s\\0"];
    argv.extend(&args);
    let out = ssh
        .run(&Script::new().cmd(&argv).unwrap(), b"")
        .await
        .unwrap();
    let mut got: Vec<&[u8]> = out.split(|b| *b == 0).collect();
    assert_eq!(got.pop(), Some(&b""[..]), "output ends with NUL");
    let want: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    assert_eq!(got, want);
    assert!(
        !std::path::Path::new(pwned).exists(),
        "an argument was executed"
    );
}

#[tokio::test]
async fn non_zero_exit_is_failed_with_stderr() {
    let sshd = Sshd::start();
    let ssh = shell(&sshd).await;
    match ssh
        .run(&sh("echo out; echo 'it broke' >&2; exit 3"), b"")
        .await
    {
        Err(NodeError::Failed { code: 3, stderr }) => assert_eq!(stderr, "it broke"),
        other => panic!("{other:?}"),
    }
    // 127 and 255 are special to the ssh client (and to openssh): still the script's own.
    match ssh
        .run(&Script::new().cmd(&["no-such-command-xyz"]).unwrap(), b"")
        .await
    {
        Err(NodeError::Failed { code: 127, stderr }) => {
            assert!(stderr.contains("no-such-command-xyz"), "{stderr}")
        }
        other => panic!("{other:?}"),
    }
    match ssh.run(&sh("echo bye >&2; exit 255"), b"").await {
        Err(NodeError::Failed { code: 255, stderr }) => assert_eq!(stderr, "bye"),
        other => panic!("{other:?}"),
    }
    // `set -e`: the first failing command ends the script.
    let s = Script::new()
        .cmd(&["false"])
        .unwrap()
        .cmd(&["echo", "not reached"])
        .unwrap();
    assert!(matches!(
        ssh.run(&s, b"").await,
        Err(NodeError::Failed { code: 1, .. })
    ));
    // And the shell is still good afterwards.
    assert_eq!(ssh.run(&sh("echo ok"), b"").await.unwrap(), b"ok\n");
}

#[tokio::test]
async fn wrong_host_key_is_refused_before_anything_runs() {
    let sshd = Sshd::start();
    let target = SshTarget {
        host_keys: sshd.client_key_line(),
        ..sshd.target()
    };
    match SshShell::connect(target).await {
        Err(NodeError::HostKey(m)) => assert!(m.contains("SHA256:"), "{m}"),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("connected with a wrong pinned host key"),
    }
    assert_eq!(sshd.ssh_masters(), 0);
}

#[tokio::test]
async fn pinned_keys_may_be_known_hosts_lines_and_garbage_is_invalid() {
    let sshd = Sshd::start();
    // A known_hosts line (its host field is ignored), after a wrong key: any pinned key may
    // match.
    let target = SshTarget {
        host_keys: format!(
            "{}\n# the node\r\npve1,10.0.0.1 {}\r\n",
            sshd.client_key_line(),
            sshd.host_key_line()
        ),
        ..sshd.target()
    };
    let ssh = SshShell::connect(target).await.unwrap();
    assert_eq!(ssh.run(&sh("echo ok"), b"").await.unwrap(), b"ok\n");

    for garbage in ["", "not a key", "ssh-ed25519 AAAA!!!"] {
        let target = SshTarget {
            host_keys: garbage.into(),
            ..sshd.target()
        };
        assert!(
            matches!(SshShell::connect(target).await, Err(NodeError::Invalid(_))),
            "{garbage:?}"
        );
    }
    let target = SshTarget {
        host: "-oProxyCommand=touch /tmp/x".into(),
        ..sshd.target()
    };
    assert!(matches!(
        SshShell::connect(target).await,
        Err(NodeError::Invalid(_))
    ));
}

#[tokio::test]
async fn unreachable_port_fails_within_the_connect_timeout() {
    let sshd = Sshd::start();
    // Nothing listens: refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let started = Instant::now();
    match SshShell::connect(SshTarget {
        port,
        ..sshd.target()
    })
    .await
    {
        Err(NodeError::Unreachable(m)) => assert!(m.contains("refused"), "{m}"),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("connected to a closed port"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // Something accepts but never speaks SSH: the connect timeout (1 s) bounds the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let result = SshShell::connect(SshTarget {
        port,
        connect_timeout: Duration::from_secs(1),
        ..sshd.target()
    })
    .await;
    let took = started.elapsed();
    assert!(
        matches!(result, Err(NodeError::Unreachable(_))),
        "{:?}",
        result.err()
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
    drop(silent);
}

#[tokio::test]
async fn a_command_over_its_time_is_a_timeout() {
    let sshd = Sshd::start();
    let ssh = SshShell::connect(SshTarget {
        command_timeout: Duration::from_secs(1),
        ..sshd.target()
    })
    .await
    .unwrap();
    let started = Instant::now();
    match ssh.run(&sh("sleep 30"), b"").await {
        Err(NodeError::Timeout(t)) => assert_eq!(t, Duration::from_secs(1)),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // The master is unaffected.
    assert_eq!(ssh.run(&sh("echo ok"), b"").await.unwrap(), b"ok\n");
    assert_eq!(sshd.ssh_masters(), 1);
}

#[tokio::test]
async fn reconnects_after_the_server_restarts() {
    let mut sshd = Sshd::start();
    let ssh = shell(&sshd).await;
    assert_eq!(ssh.run(&sh("echo one"), b"").await.unwrap(), b"one\n");

    sshd.kill();
    sshd.wait_masters_gone();
    // Down: the master is gone and a new one cannot be started.
    assert!(matches!(
        ssh.run(&sh("echo down"), b"").await,
        Err(NodeError::Unreachable(_))
    ));

    sshd.restart();
    assert_eq!(ssh.run(&sh("echo two"), b"").await.unwrap(), b"two\n");
    assert_eq!(sshd.ssh_masters(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_cut_off_mid_run_is_not_run_again() {
    let mut sshd = Sshd::start();
    let ssh = Arc::new(shell(&sshd).await);
    let count = sshd.scratch().join("count");
    let started = sshd.scratch().join("started");
    let script = format!(
        "echo x >> '{}'; touch '{}'; sleep 10",
        count.display(),
        started.display()
    );
    let running = tokio::spawn({
        let ssh = ssh.clone();
        async move { ssh.run(&sh(&script), b"").await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the command did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sshd.kill();
    match running.await.unwrap() {
        Err(NodeError::Unreachable(m)) => assert!(m.contains("may or may not"), "{m}"),
        other => panic!("{other:?}"),
    }
    sshd.restart();
    sshd.wait_masters_gone();
    assert_eq!(ssh.run(&sh("echo back"), b"").await.unwrap(), b"back\n");
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "x\n", "ran twice");
}

/// Starts 20 commands at once, each of which marks that it started and then waits for a
/// release file; counts the marks while none can finish, then releases them all. Returns how
/// many ran at the same time.
async fn twenty_at_once(ssh: &SshShell, sshd: &Sshd) -> usize {
    let dir = sshd.scratch().join("running");
    std::fs::create_dir_all(&dir).unwrap();
    let release = sshd.scratch().join("release");
    let runs = (0..20).map(|i| {
        let script = format!(
            "touch '{d}/r{i}'; while [ ! -e '{r}' ]; do sleep 0.05; done; echo {i}",
            d = dir.display(),
            r = release.display()
        );
        async move { ssh.run(&sh(&script), b"").await }
    });
    let started = || std::fs::read_dir(&dir).unwrap().count();
    let watch = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while started() < 8 {
            assert!(Instant::now() < deadline, "only {} started", started());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Time for any run beyond the cap to start, if it were allowed to.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let most = started();
        std::fs::write(&release, b"").unwrap();
        most
    };
    let (results, most) = tokio::join!(futures_util::future::join_all(runs), watch);
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(
            r.expect("every run succeeds"),
            format!("{i}\n").into_bytes()
        );
    }
    assert_eq!(started(), 20);
    most
}

#[tokio::test]
async fn twenty_concurrent_runs_share_one_master_and_at_most_eight_channels() {
    let sshd = Sshd::start();
    let ssh = shell(&sshd).await;
    assert_eq!(twenty_at_once(&ssh, &sshd).await, 8, "channels at once");
    for _ in 0..20 {
        ssh.run(&Script::new().cmd(&["true"]).unwrap(), b"")
            .await
            .unwrap();
    }
    // One master for all 40 commands.
    assert_eq!(sshd.ssh_masters(), 1);
    drop(ssh);
    // Dropping the shell closes its master.
    sshd.wait_masters_gone();
}

#[tokio::test]
async fn twenty_concurrent_runs_fit_under_the_default_max_sessions() {
    // OpenSSH's default MaxSessions: 10 channels per connection.
    let sshd = Sshd::start_with_max_sessions(10);
    let ssh = shell(&sshd).await;
    assert_eq!(twenty_at_once(&ssh, &sshd).await, 8, "channels at once");
}
