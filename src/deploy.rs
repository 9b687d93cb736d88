//! Start-up shared by the deployed functions (Lambda and Vercel): configuration and the
//! DynamoDB store, built once per cold start. A bad setting stops the process with one line.

use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::Config;
use crate::context::{AppContext, ForwardedHeaders, Scheme};
use crate::store::dynamodb::checked_sdk_config;
use crate::store::{DynamoStore, StoreError};

/// The function's context, built once per cold start; requests wait for it with
/// [`Starting::ready`].
#[derive(Clone)]
pub struct Starting(watch::Receiver<Option<Arc<AppContext>>>);

impl Starting {
    /// The context, once built (at once after the first request).
    pub async fn ready(&self) -> Arc<AppContext> {
        let mut built = self.0.clone();
        match built.wait_for(Option::is_some).await {
            Ok(ctx) => ctx.as_ref().map(Arc::clone).expect("waited for Some"),
            // The build task is gone without a context: it panicked, and said why on stderr.
            Err(_) => {
                refuse_to_start("the function's context could not be built");
                std::process::exit(1)
            }
        }
    }
}

/// Reads and checks the configuration and the SDK's settings now, so a bad one stops the start
/// with a message naming it. The DynamoDB client and the rest of the context are then built
/// on a runtime worker while the caller starts the platform's runtime: the client's endpoint
/// rules (~0.2 ms of CPU) overlap the runtime's own start-up and its wait for the first event,
/// which waits for the context in turn. The overlap needs a multi-threaded runtime (both
/// doors run one); on a current-thread runtime the build simply runs first.
pub async fn init(scheme: Scheme, forwarded: ForwardedHeaders) -> Result<Starting, String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    if !config.cookie_secure {
        return Err(
            "COOKIE_SECURE=false is only for plain-http local use: a deployed function's cookies are always Secure".into(),
        );
    }
    let sdk_config = checked_sdk_config().await.map_err(|e| match e {
        StoreError::Unavailable(reason) => reason,
        other => format!("{other:?}"),
    })?;
    let (built, starting) = watch::channel(None);
    tokio::spawn(async move {
        let store = DynamoStore::new(&sdk_config, &config.users_table);
        let ctx =
            AppContext::new(config, Arc::new(store), scheme).with_forwarded_headers(forwarded);
        let _ = built.send(Some(Arc::new(ctx)));
    });
    Ok(Starting(starting))
}

/// Prints the start-up failure as one line and gives the exit status that stops the runtime.
pub fn refuse_to_start(message: &str) -> ExitCode {
    eprintln!("neptun-users: refusing to start: {message}");
    ExitCode::FAILURE
}
