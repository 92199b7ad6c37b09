//! `underwrite demo`: see `src/demo.rs`.

use underwrite::config::Settings;

use super::CliResult;

pub async fn run(settings: Settings) -> CliResult {
    underwrite::demo::run(settings).await?;
    Ok(())
}
