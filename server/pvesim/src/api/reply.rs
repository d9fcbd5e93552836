//! Answers on the wire exactly as pveproxy formats them
//! (proxmox/pve-http-server `Formatter/Standard.pm`, `AnyEvent.pm`):
//!
//! * success `{"data": ...}` (+ `total` for task lists and logs), status line `200 OK`;
//! * handler errors `{"data":null,"message":"text\n"}` (+ `errors` for 400) with the first
//!   line of the text as the HTTP **reason phrase** (`HTTP/1.1 500 VM 101 not running`);
//! * auth-layer 401s and proxy 595/596 with an empty body;
//! * headers `Server: pve-api-daemon/3.0`, `Cache-Control: max-age=0`, `Pragma: no-cache`,
//!   `Expires`, `Content-Type: application/json;charset=UTF-8`, and `Connection: close`
//!   after any status >= 400.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Map, Value, json};

/// A successful answer.
pub(crate) enum Reply {
    /// `{"data": value}`.
    Data(Value),
    /// `{"data": value, "total": n}`.
    Total(Value, usize),
    /// A complete JSON body serialised by the handler (large lists).
    Json(Vec<u8>),
    /// A response built elsewhere (websocket upgrade).
    Raw(Response<Body>),
}

/// An error answer; the variants are PVE's distinct wire shapes.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400 `Parameter verification failed.` with per-parameter messages.
    Param(Vec<(String, String)>),
    /// 401 from the auth layer, empty body (`No ticket`, `Authentication failed!`,
    /// `Permission denied - invalid csrf token`).
    Unauthorized(&'static str),
    /// 401 `authentication failure` from `POST /access/ticket`, JSON body.
    LoginFailed,
    /// 403 with the full `Permission check failed (...)` text.
    Forbidden(String),
    /// Any status with a JSON message (500 for business errors).
    Status(u16, String),
    /// 501 `Method 'GET /x' not implemented` (message without newline, as PVE sends it).
    NotImplemented(String),
    /// 501 for a DELETE with a body; plain-text body.
    DeleteBody,
    /// 595/596 proxy errors, empty body.
    Proxy(u16, String),
}

impl ApiError {
    /// A 500 with `text` (a newline is appended as PVE's `die` does).
    pub(crate) fn msg(text: impl Into<String>) -> Self {
        ApiError::Status(500, text.into())
    }

    pub(crate) fn param(name: &str, text: impl Into<String>) -> Self {
        ApiError::Param(vec![(name.to_string(), text.into())])
    }

    /// Whether pveproxy delays this answer (every 401).
    pub(crate) fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            ApiError::Unauthorized(_) | ApiError::LoginFailed | ApiError::Status(401, _)
        )
    }
}

pub(crate) type ApiResult = Result<Reply, ApiError>;

pub(crate) fn ok(value: Value) -> ApiResult {
    Ok(Reply::Data(value))
}

/// Builds the HTTP response for a handler result.
pub(crate) fn render(result: ApiResult, message_field: bool) -> Response<Body> {
    match result {
        Ok(Reply::Data(v)) => json_response(StatusCode::OK, None, &json!({ "data": v })),
        Ok(Reply::Total(v, total)) => {
            json_response(StatusCode::OK, None, &json!({ "data": v, "total": total }))
        }
        Ok(Reply::Json(bytes)) => {
            let mut r = Response::new(Body::from(bytes));
            finish(&mut r, None, "application/json;charset=UTF-8");
            r
        }
        Ok(Reply::Raw(r)) => r,
        Err(e) => error_response(e, message_field),
    }
}

fn error_response(e: ApiError, message_field: bool) -> Response<Body> {
    let body = |msg: &str, errors: Option<Value>| {
        let mut m = Map::new();
        m.insert("data".into(), Value::Null);
        if let Some(errors) = errors {
            m.insert("errors".into(), errors);
        }
        if message_field {
            m.insert("message".into(), Value::String(msg.to_string()));
        }
        Value::Object(m)
    };
    match e {
        ApiError::Param(list) => {
            let errors: Map<String, Value> = list
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            let msg = "Parameter verification failed.\n";
            json_response(
                status(400),
                Some(msg),
                &body(msg, Some(Value::Object(errors))),
            )
        }
        ApiError::Unauthorized(reason) => empty(401, reason),
        ApiError::LoginFailed => {
            let msg = "authentication failure\n";
            json_response(status(401), Some(msg), &body(msg, None))
        }
        ApiError::Forbidden(text) => {
            let msg = format!("{text}\n");
            json_response(status(403), Some(&msg), &body(&msg, None))
        }
        ApiError::Status(code, text) => {
            let msg = format!("{text}\n");
            json_response(status(code), Some(&msg), &body(&msg, None))
        }
        ApiError::NotImplemented(what) => {
            let msg = format!("Method '{what}' not implemented");
            json_response(status(501), Some(&msg), &body(&msg, None))
        }
        ApiError::DeleteBody => {
            let msg = "Unexpected content for method 'DELETE'";
            let mut r = Response::new(Body::from(msg));
            *r.status_mut() = status(501);
            finish(&mut r, Some(msg), "text/plain;charset=UTF-8");
            r
        }
        ApiError::Proxy(code, reason) => empty(code, &reason),
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn empty(code: u16, reason: &str) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status(code);
    finish(&mut r, Some(reason), "");
    r
}

fn json_response(code: StatusCode, reason: Option<&str>, value: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(serde_json::to_vec(value).unwrap_or_default()));
    *r.status_mut() = code;
    finish(&mut r, reason, "application/json;charset=UTF-8");
    r
}

fn finish(r: &mut Response<Body>, reason: Option<&str>, content_type: &str) {
    let h = r.headers_mut();
    h.insert(
        header::SERVER,
        HeaderValue::from_static("pve-api-daemon/3.0"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=0"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&http_date(std::time::SystemTime::now())) {
        h.insert(header::EXPIRES, v);
    }
    if !content_type.is_empty() {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain")),
        );
    }
    if r.status().as_u16() >= 400 {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some(reason) = reason {
        // The reason phrase is the first line of the message (HTTP allows no newline there).
        let line = reason.lines().next().unwrap_or("").trim_end();
        let clean: String = line
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(clean) {
            r.extensions_mut().insert(phrase);
        }
    }
}

/// RFC 7231 date (`Fri, 27 Nov 2026 21:36:13 GMT`).
pub(crate) fn http_date(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (y, mo, d, h, m, s) = civil(secs);
    let days = (secs / 86_400) as i64;
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days.rem_euclid(7)) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(mo - 1) as usize];
    format!("{wd}, {d:02} {mon} {y} {h:02}:{m:02}:{s:02} GMT")
}

/// `strftime("%F %H:%M:%S")` of epoch seconds (UTC: the simulated nodes' time zone), the
/// prefix of migration log lines.
pub(crate) fn log_time(secs: u64) -> String {
    let (y, mo, d, h, m, s) = civil(secs);
    format!("{y}-{mo:02}-{d:02} {h:02}:{m:02}:{s:02}")
}

/// Year, month, day, hour, minute, second of epoch seconds (civil-from-days, Howard Hinnant).
fn civil(secs: u64) -> (i64, i64, i64, u64, u64, u64) {
    let days = (secs / 86_400) as i64;
    let (h, m, s) = ((secs % 86_400) / 3600, (secs % 3600) / 60, secs % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    (y, mo, d, h, m, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_format() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_786_573);
        assert_eq!(http_date(t), "Fri, 27 Nov 2026 13:36:13 GMT");
        assert_eq!(log_time(1_795_786_573), "2026-11-27 13:36:13");
    }
}
