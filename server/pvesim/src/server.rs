//! The listener: TLS on every connection, HTTP/1.1 with upgrades (for `vncwebsocket`),
//! `/_sim/...` to the control API and everything else to the PVE API. Runs on its own
//! runtime thread so a simulator keeps answering while a test blocks its own thread.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

use crate::control::{Control, http};
use crate::model::State;

pub(crate) fn app(state: Arc<State>) -> Router {
    let control = Control {
        state: state.clone(),
    };
    http::router(control).fallback(move |req: Request<Body>| {
        let state = state.clone();
        async move { crate::api::handle(state, req).await }
    })
}

pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    mut stop: oneshot::Receiver<()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, _peer)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}
