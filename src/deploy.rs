//! Start-up shared by the deployed functions (Lambda and Vercel): configuration and the
//! DynamoDB store, built once per cold start. A bad setting stops the process with one line.

use std::process::ExitCode;
use std::sync::Arc;

use crate::config::Config;
use crate::context::{AppContext, Scheme};
use crate::store::{DynamoStore, StoreError};

/// Reads the configuration and builds the DynamoDB client; the message names what is wrong.
pub async fn init(scheme: Scheme) -> Result<Arc<AppContext>, String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let store = DynamoStore::from_env(&config.users_table)
        .await
        .map_err(|e| match e {
            StoreError::Unavailable(reason) => reason,
            other => format!("{other:?}"),
        })?;
    Ok(Arc::new(AppContext::new(config, Arc::new(store), scheme)))
}

/// Prints the start-up failure as one line and gives the exit status that stops the runtime.
pub fn refuse_to_start(message: &str) -> ExitCode {
    eprintln!("neptun-users: refusing to start: {message}");
    ExitCode::FAILURE
}
