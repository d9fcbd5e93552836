//! Request parameters as pveproxy collects them: the query string for every method, plus an
//! `application/x-www-form-urlencoded` or JSON body for POST/PUT. JSON scalars become
//! their text (`true` → `1`, as PVE's JSON schema coerces booleans), arrays become repeated
//! values (`command` of `agent/exec`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::reply::ApiError;

#[derive(Debug, Default, Clone)]
pub(crate) struct Params(BTreeMap<String, Vec<String>>);

impl Params {
    pub(crate) fn parse(
        query: Option<&str>,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<Self, ApiError> {
        let mut p = Params::default();
        if let Some(q) = query {
            p.add_form(q.as_bytes());
        }
        if body.is_empty() {
            return Ok(p);
        }
        if content_type.is_some_and(|c| c.starts_with("application/json")) {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::Status(400, format!("unable to parse JSON body - {e}")))?;
            if let Value::Object(map) = value {
                for (k, v) in map {
                    match v {
                        Value::Array(items) => {
                            for item in items {
                                p.push(&k, scalar(&item));
                            }
                        }
                        Value::Null => {}
                        other => p.push(&k, scalar(&other)),
                    }
                }
            }
        } else {
            p.add_form(body);
        }
        Ok(p)
    }

    fn add_form(&mut self, bytes: &[u8]) {
        for (k, v) in form_urlencoded::parse(bytes) {
            // `command[]=x` style repeated keys arrive without brackets in PVE's parser too.
            let key = k.strip_suffix("[]").unwrap_or(&k).to_string();
            self.push(&key, v.into_owned());
        }
    }

    pub(crate) fn push(&mut self, key: &str, value: String) {
        self.0.entry(key.to_string()).or_default().push(value);
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    pub(crate) fn all(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// A boolean parameter (`1/0`, `true/false`, `yes/no`, `on/off`).
    pub(crate) fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some(v) => parse_bool(v).ok_or_else(|| {
                ApiError::param(key, format!("type check ('boolean') failed - got '{v}'"))
            }),
        }
    }

    /// An integer parameter.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::param(key, format!("type check ('integer') failed - got '{v}'"))
            }),
        }
    }
}

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "1" } else { "0" }.into(),
        other => other.to_string(),
    }
}

/// Validates a VMID path or body value the way the schema does (`pve-vmid`: integer
/// 100..=999999999).
pub(crate) fn vmid(name: &str, text: &str) -> Result<u32, ApiError> {
    let n: i64 = text.parse().map_err(|_| {
        ApiError::param(
            name,
            format!("type check ('integer') failed - got '{text}'"),
        )
    })?;
    if n < 100 {
        return Err(ApiError::param(
            name,
            "value must have a minimum value of 100",
        ));
    }
    if n > 999_999_999 {
        return Err(ApiError::param(
            name,
            "value must have a maximum value of 999999999",
        ));
    }
    Ok(n as u32)
}
