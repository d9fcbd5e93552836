//! [`Script`]: a POSIX `sh` script assembled from argument vectors, each argument quoted.
//!
//! Nothing the user typed ever reaches a shell unquoted: the only raw text is the fixed
//! operators this module writes itself (`&&`, `||`, redirections).

use super::NodeError;

/// The exit code of [`Script::guard_vmid`] when the VMID belongs to another guest; the job
/// engine reads it as a permanent failure (no retry can free the VMID).
pub const EXIT_VMID_TAKEN: i32 = 3;

/// A shell script built command by command. `set -e` semantics: the first failing command
/// ends it with that command's exit status.
#[derive(Clone, Debug, Default)]
pub struct Script {
    text: String,
}

/// Quotes one argument for `sh`. NUL cannot be passed through a shell at all, so it is refused.
pub fn quote(arg: &str) -> Result<String, NodeError> {
    shlex::try_quote(arg)
        .map(|q| q.into_owned())
        .map_err(|_| NodeError::Invalid(format!("argument contains a NUL byte: {arg:?}")))
}

fn join(argv: &[&str]) -> Result<String, NodeError> {
    let quoted: Result<Vec<String>, NodeError> = argv.iter().map(|a| quote(a)).collect();
    Ok(quoted?.join(" "))
}

impl Script {
    pub fn new() -> Self {
        Self {
            text: "set -e\n".into(),
        }
    }

    /// `argv…`
    pub fn cmd(mut self, argv: &[&str]) -> Result<Self, NodeError> {
        self.text.push_str(&join(argv)?);
        self.text.push('\n');
        Ok(self)
    }

    /// `[ -e path ] || { cmd1 && cmd2 …; }`: runs the commands only when `path` does not
    /// exist yet (the idempotent "check, then act" of a resumable step). Steps write to a
    /// `.part` file and rename it last, so `path` existing means the step finished.
    pub fn unless_exists(mut self, path: &str, cmds: &[&[&str]]) -> Result<Self, NodeError> {
        let joined: Result<Vec<String>, NodeError> = cmds.iter().map(|c| join(c)).collect();
        self.text.push_str(&format!(
            "[ -e {} ] || {{ {}; }}\n",
            quote(path)?,
            joined?.join(" && ")
        ));
        Ok(self)
    }

    /// `argv… > path` (stdout of the command into a file).
    pub fn cmd_to_file(mut self, argv: &[&str], path: &str) -> Result<Self, NodeError> {
        self.text
            .push_str(&format!("{} > {}\n", join(argv)?, quote(path)?));
        Ok(self)
    }

    /// `[ -e path ] || { printf '%s' content > path.tmp.proxlab && mv … path; }`: a file that
    /// appears whole (rename) or not at all. The content travels inside the script, not on
    /// stdin: if the portal dies mid-write, a command reading stdin would see EOF and rename
    /// a truncated file into place (the crash test caught exactly that), while a script is
    /// handed over whole before it runs.
    pub fn write_file_once(mut self, path: &str, content: &str) -> Result<Self, NodeError> {
        let tmp = quote(&format!("{path}.tmp.proxlab"))?;
        let body = quote(content)?;
        let path = quote(path)?;
        self.text.push_str(&format!(
            "[ -e {path} ] || {{ printf '%s' {body} > {tmp} && mv -- {tmp} {path}; }}\n"
        ));
        Ok(self)
    }

    /// Fails ([`EXIT_VMID_TAKEN`]) when guest `vmid` exists anywhere in the cluster (a config under any
    /// node's folder) and is not ours: ours is `own_config` containing `own_mac`. This keeps a
    /// retried step from adopting a guest someone else created with the same VMID.
    pub fn guard_vmid(
        mut self,
        pve_root: &str,
        vmid: u32,
        own_config: &str,
        own_mac: &str,
    ) -> Result<Self, NodeError> {
        let root = quote(pve_root)?;
        let own = quote(own_config)?;
        let mac = quote(own_mac)?;
        // The glob is ours (a number and fixed folder names); only the root is user text.
        self.text.push_str(&format!(
            "for f in {root}/nodes/*/qemu-server/{vmid}.conf {root}/nodes/*/lxc/{vmid}.conf; do \
             [ -e \"$f\" ] || continue; \
             if [ \"$f\" != {own} ] || ! grep -qiF -- {mac} \"$f\"; then \
             echo \"VMID {vmid} is already used by another guest ($f)\" >&2; exit {EXIT_VMID_TAKEN}; fi; done\n"
        ));
        Ok(self)
    }

    /// Prints every guest config of the cluster (pmxcfs holds them all, whichever node we
    /// are on), each after a line `\x1e<path>`.
    pub fn dump_guest_configs(mut self, pve_root: &str) -> Result<Self, NodeError> {
        let root = quote(pve_root)?;
        self.text.push_str(&format!(
            "for f in {root}/nodes/*/qemu-server/*.conf {root}/nodes/*/lxc/*.conf; do \
             [ -e \"$f\" ] || continue; printf '\\036%s\\n' \"$f\"; cat -- \"$f\"; done\n"
        ));
        Ok(self)
    }

    /// `if grep -qiF needle path; then argv…; fi` (missing file: nothing runs).
    pub fn if_grep(mut self, needle: &str, path: &str, argv: &[&str]) -> Result<Self, NodeError> {
        self.text.push_str(&format!(
            "if grep -qiF -- {} {} 2>/dev/null; then {}; fi\n",
            quote(needle)?,
            quote(path)?,
            join(argv)?
        ));
        Ok(self)
    }

    /// `if [ -e path ]; then argv…; fi`
    pub fn if_exists(mut self, path: &str, argv: &[&str]) -> Result<Self, NodeError> {
        self.text.push_str(&format!(
            "if [ -e {} ]; then {}; fi\n",
            quote(path)?,
            join(argv)?
        ));
        Ok(self)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_arguments_are_quoted() {
        let s = Script::new()
            .cmd(&["echo", "'; rm -rf / #", "$(reboot)", "a\nb", "ünï"])
            .unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(s.as_str())
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "'; rm -rf / # $(reboot) a\nb ünï\n"
        );
    }

    #[test]
    fn nul_is_refused() {
        assert!(matches!(
            Script::new().cmd(&["echo", "a\0b"]),
            Err(NodeError::Invalid(_))
        ));
    }

    #[test]
    fn unless_exists_skips_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x y");
        let f = f.to_str().unwrap();
        let s = Script::new()
            .unless_exists(f, &[&["touch", f]])
            .unwrap()
            .cmd_to_file(&["echo", "1"], &format!("{f}.log"))
            .unwrap();
        for _ in 0..2 {
            let st = std::process::Command::new("sh")
                .arg("-c")
                .arg(s.as_str())
                .status()
                .unwrap();
            assert!(st.success());
        }
        assert!(std::path::Path::new(f).exists());
    }

    #[test]
    fn write_file_once_keeps_content_byte_exact_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a b.conf");
        let f = f.to_str().unwrap();
        let content = "name: x'; rm -rf / #\n$(reboot) `id` %s %n \\ ünï\n";
        let run = |c: &str| {
            let s = Script::new().write_file_once(f, c).unwrap();
            assert!(
                std::process::Command::new("sh")
                    .arg("-c")
                    .arg(s.as_str())
                    .status()
                    .unwrap()
                    .success()
            );
        };
        run(content);
        assert_eq!(std::fs::read_to_string(f).unwrap(), content);
        run("other");
        assert_eq!(
            std::fs::read_to_string(f).unwrap(),
            content,
            "an existing file is kept"
        );
    }
}
