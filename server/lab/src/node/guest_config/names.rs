//! Names and identifiers for new guests.

/// A VM name PVE accepts (its `dns-name` format), from anything a user typed: lowercase
/// `a-z0-9` and `-`, runs of other ASCII collapsed into one `-`, no `-` at either end, at
/// most 63 characters (one DNS label). Non-ASCII characters are dropped, not transliterated
/// (`café` → `caf`). An empty result becomes `vm-<vmid>`.
pub fn sanitize_vm_name(raw: &str, fallback_vmid: u32) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii() && !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(63); // ASCII only, so this is a char boundary
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        format!("vm-{fallback_vmid}")
    } else {
        out.to_owned()
    }
}

/// A random MAC with Proxmox's OUI `BC:24:11`, as PVE generates them (uppercase).
pub fn random_mac() -> String {
    let bytes: [u8; 3] = random();
    format!(
        "BC:24:11:{:02X}:{:02X}:{:02X}",
        bytes[0], bytes[1], bytes[2]
    )
}

/// A random (version 4) UUID, lowercase, for `smbios1` and `vmgenid`.
pub fn random_uuid() -> String {
    let mut b: [u8; 16] = random();
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes
}
