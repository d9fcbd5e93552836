//! The guest `.conf` text format, as pmxcfs stores it and `qemu-server`/`pve-container` parse it.
//!
//! A file is: leading `#` lines (the URL-encoded `description`), `key: value` lines of the
//! current config, an optional `[PENDING]` section and one `[name]` section per snapshot
//! (proxmox/qemu-server `parse_vm_config`). PVE writes keys sorted (`sort keys %$conf`) and
//! snapshot sections sorted by name, so [`Conf::render`] does the same; unknown lines are kept
//! as they are so a file written by hand round-trips.

use std::collections::BTreeMap;

/// One section: the main config, the pending changes or one snapshot.
pub(crate) type Section = BTreeMap<String, String>;

/// A parsed guest config file.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Conf {
    /// Current config keys (with `description` decoded from the `#` lines).
    pub main: Section,
    /// `[PENDING]` section, if any.
    pub pending: Option<Section>,
    /// Snapshot sections by name; each is a full copy of the config plus `snaptime`/`parent`.
    pub snapshots: BTreeMap<String, Section>,
}

impl Conf {
    /// Parses the text of a `.conf` file. Lines that are neither comments, section headers
    /// nor `key: value` are ignored, as PVE warns and skips them.
    pub(crate) fn parse(text: &str) -> Self {
        let mut conf = Conf::default();
        let mut current: Option<String> = None; // None = main section
        let mut description = String::new();
        let mut section_desc: BTreeMap<String, String> = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.to_string();
                if name == "PENDING" {
                    conf.pending.get_or_insert_with(Section::new);
                } else {
                    conf.snapshots.entry(name.clone()).or_default();
                }
                current = Some(name);
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let decoded = decode_comment(comment);
                let target = match &current {
                    None => &mut description,
                    Some(name) => section_desc.entry(name.clone()).or_default(),
                };
                target.push_str(&decoded);
                target.push('\n');
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim().to_string(), value.trim().to_string());
            let section = match current.as_deref() {
                None => &mut conf.main,
                Some("PENDING") => conf.pending.get_or_insert_with(Section::new),
                Some(name) => conf.snapshots.entry(name.to_string()).or_default(),
            };
            section.insert(key, value);
        }
        if !description.is_empty() {
            description.pop();
            conf.main.insert("description".into(), description);
        }
        for (name, mut desc) in section_desc {
            desc.pop();
            if let Some(section) = conf.snapshots.get_mut(&name) {
                section.insert("description".into(), desc);
            }
        }
        conf
    }

    /// Renders the file the way PVE writes it: description comments, sorted keys, then
    /// `[PENDING]` and the snapshot sections sorted by name.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        render_section(&mut out, &self.main, true);
        if let Some(pending) = &self.pending {
            out.push_str("\n[PENDING]\n");
            render_section(&mut out, pending, false);
        }
        for (name, section) in &self.snapshots {
            out.push_str(&format!("\n[{name}]\n"));
            render_section(&mut out, section, true);
        }
        out
    }

    /// Value of a main-section key.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.main.get(key).map(String::as_str)
    }

    /// Whether `template: 1` is set.
    pub(crate) fn is_template(&self) -> bool {
        self.get("template") == Some("1")
    }
}

fn render_section(out: &mut String, section: &Section, comments: bool) {
    if comments && let Some(desc) = section.get("description") {
        for line in desc.split('\n') {
            out.push('#');
            out.push_str(&encode_comment(line));
            out.push('\n');
        }
    }
    for (key, value) in section {
        if comments && key == "description" {
            continue;
        }
        out.push_str(key);
        out.push_str(": ");
        out.push_str(value);
        out.push('\n');
    }
}

/// PVE URL-encodes description lines only for characters that would break the format;
/// we keep `%` escaping for `%` itself and control characters.
fn encode_comment(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c == '%' || (c.is_control() && c != '\t') {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn decode_comment(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
            && let Ok(v) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a property string (`local:100/vm-100-disk-0.qcow2,iothread=1,size=32G`) into its
/// leading positional value and `key=value` pairs.
pub(crate) fn property_string(value: &str) -> (Option<&str>, Vec<(&str, &str)>) {
    let mut first = None;
    let mut pairs = Vec::new();
    for (i, part) in value.split(',').enumerate() {
        match part.split_once('=') {
            Some((k, v)) => pairs.push((k, v)),
            None if i == 0 => first = Some(part),
            None => {}
        }
    }
    (first, pairs)
}

/// Parses a size like `32G`, `528K`, `4M` or plain bytes into bytes.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (num, mult) = match text.chars().last()? {
        'K' | 'k' => (&text[..text.len() - 1], 1u64 << 10),
        'M' | 'm' => (&text[..text.len() - 1], 1u64 << 20),
        'G' | 'g' => (&text[..text.len() - 1], 1u64 << 30),
        'T' | 't' => (&text[..text.len() - 1], 1u64 << 40),
        _ => (text, 1),
    };
    let value: f64 = num.parse().ok()?;
    Some((value * mult as f64) as u64)
}

/// Formats bytes the way PVE writes `size=` (largest whole unit).
pub(crate) fn format_size(bytes: u64) -> String {
    for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_real_file() {
        let text = "#Web server%25\n#line two\nboot: order=scsi0\ncores: 2\nparent: snap1\n\n[snap1]\ncores: 1\nsnaptime: 1737549549\n";
        let conf = Conf::parse(text);
        assert_eq!(conf.get("description"), Some("Web server%\nline two"));
        assert_eq!(conf.snapshots["snap1"]["snaptime"], "1737549549");
        assert_eq!(conf.render(), text);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("32G"), Some(32 << 30));
        assert_eq!(format_size(528 << 10), "528K");
        let (first, pairs) = property_string("local:100/vm-100-disk-0.qcow2,size=32G");
        assert_eq!(first, Some("local:100/vm-100-disk-0.qcow2"));
        assert_eq!(pairs, vec![("size", "32G")]);
    }
}
