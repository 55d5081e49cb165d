//! Stopping a server gracefully: the one signal future `agentry serve` and
//! `agentry mcp serve --http` hand their HTTP server.

/// Completes on Ctrl-C or (on Unix) SIGTERM. Where SIGTERM cannot be caught, a warning
/// says so and Ctrl-C alone stops the server.
pub(crate) async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("SIGTERM cannot be caught ({e}); Ctrl-C still stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
