//! Running a `tower::Service` as the handler (feature `tower`).

use std::future::poll_fn;

use bytes::Bytes;
use lambda_sansio::context::{Context, HandlerError};
use lambda_sansio::runtime::RuntimeConfig;
use tower_service::Service;

use lambda_sansio::driver::RunError;

use crate::runtime::{config_from_env, run_with};

/// One invocation, as a service request.
#[derive(Debug, Clone)]
pub struct LambdaRequest {
    /// The event.
    pub payload: Bytes,
    /// Its context.
    pub context: Context,
}

/// Runs `service` for every invocation, configured from the environment.
/// The service is cloned per invocation and awaited ready before each call.
pub async fn run_service<S>(service: S) -> Result<(), RunError>
where
    S: Service<LambdaRequest, Response = Bytes> + Clone + Send + Sync + 'static,
    S::Error: Into<HandlerError>,
    S::Future: Send + 'static,
{
    run_service_with(config_from_env()?, service).await
}

/// [`run_service`] with an explicit configuration.
pub async fn run_service_with<S>(config: RuntimeConfig, service: S) -> Result<(), RunError>
where
    S: Service<LambdaRequest, Response = Bytes> + Clone + Send + Sync + 'static,
    S::Error: Into<HandlerError>,
    S::Future: Send + 'static,
{
    run_with(config, move |payload, context| {
        let mut service = service.clone();
        async move {
            poll_fn(|cx| service.poll_ready(cx)).await.map_err(Into::into)?;
            service.call(LambdaRequest { payload, context }).await.map_err(Into::into)
        }
    })
    .await
}
