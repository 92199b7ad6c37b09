//! Being written (issue 4).

use super::{ChaosError, ChaosOptions, ChaosReport, err};
use crate::config::Settings;

pub async fn run(_settings: Settings, _options: ChaosOptions) -> Result<ChaosReport, ChaosError> {
    Err(err("this scenario is not built yet"))
}
