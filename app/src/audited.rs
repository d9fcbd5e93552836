//! Recording a server function's act in the audit log (`lab::audit`): the entry says who
//! and what; this adds the request's client address and how the act went, from its result.

#[cfg(feature = "ssr")]
pub async fn record<T>(entry: lab::audit::Entry, result: &Result<T, lab::Error>) {
    let Ok(services) = crate::session::services() else {
        return;
    };
    let entry = entry.from(crate::session::client_addr()).outcome(result);
    lab::audit::record(&services.db, lab::clock::now(), entry).await;
}

/// [`record`], then the result for the server function to return.
#[cfg(feature = "ssr")]
pub async fn audited<T>(
    entry: lab::audit::Entry,
    result: Result<T, lab::Error>,
) -> Result<T, crate::AppError> {
    record(entry, &result).await;
    Ok(result?)
}
