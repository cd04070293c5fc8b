//! The Google Workspace connector's settings: on when `workspace_credentials`
//! (`OP_WORKSPACE_CREDENTIALS`, the service-account key) is set, which then needs
//! `workspace_settings` (`OP_WORKSPACE_SETTINGS`). The files are read when the connector starts
//! and before each sync, so a bad or replaced key degrades `/health`, not the start-up.

use std::{path::PathBuf, time::Duration};

use super::{
    parse::{duration, get, Values},
    ConfigError,
};
use crate::workspace::{
    directory::DEFAULT_API_URL, key::checked_url, state::Selection, sync::Leave,
};

/// The default `workspace_sync_interval`.
pub(super) const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(600);

/// The connector's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceSettings {
    /// The service-account key file (`workspace-credentials.json`).
    pub credentials: PathBuf,
    /// `workspace-settings.json` (`actor`, `bridgeAddress`).
    pub settings: PathBuf,
    /// The Directory API's base URL (`https`, or `http` on loopback).
    pub api_url: http::Uri,
    /// How often it syncs.
    pub sync_interval: Duration,
    /// `OP_WORKSPACE_GROUPS`: the groups to sync; `None` leaves the choice to the status page.
    pub groups: Option<Selection>,
    /// What a user who leaves the scope becomes.
    pub leave: Leave,
    /// The first pause of a retried Directory API call (then doubled up to 32 s).
    pub backoff: Duration,
}

/// The connector's settings, `None` when it is off.
pub(super) fn settings(values: &Values) -> Result<Option<WorkspaceSettings>, ConfigError> {
    let path = |t: &str| -> Result<PathBuf, String> {
        (!t.is_empty())
            .then(|| PathBuf::from(t))
            .ok_or_else(|| "expected a file path".to_owned())
    };
    let credentials = get(values, "workspace_credentials", path)?;
    let settings = get(values, "workspace_settings", path)?;
    let (credentials, settings) = match (credentials, settings) {
        (None, None) => return Ok(None),
        (Some(c), Some(s)) => (c, s),
        (Some(_), None) | (None, Some(_)) => {
            return Err(ConfigError::Conflict {
                reason: "OP_WORKSPACE_CREDENTIALS and OP_WORKSPACE_SETTINGS go together: the \
                         service-account key and workspace-settings.json"
                    .into(),
            })
        }
    };
    let api_url = get(values, "workspace_api_url", checked_url)?
        .unwrap_or_else(|| DEFAULT_API_URL.parse().expect("the default URL parses"));
    let groups = get(values, "workspace_groups", |t| {
        Ok::<_, String>(Selection::parse(t))
    })?
    .flatten();
    let leave = get(values, "workspace_leave", |t| {
        match t.to_ascii_lowercase().as_str() {
            "deactivate" => Ok(Leave::Deactivate),
            "delete" => Ok(Leave::Delete),
            _ => Err("expected deactivate or delete".to_owned()),
        }
    })?
    .unwrap_or_default();
    Ok(Some(WorkspaceSettings {
        credentials,
        settings,
        api_url,
        sync_interval: get(values, "workspace_sync_interval", duration)?
            .unwrap_or(DEFAULT_SYNC_INTERVAL)
            .max(Duration::from_secs(1)),
        groups,
        leave,
        backoff: get(values, "workspace_backoff", duration)?
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(10)),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::load;
    use super::*;

    fn loaded(pairs: &[(&str, &str)]) -> Result<super::super::Settings, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        load(None, &move |k: &str| {
            pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn the_connector_is_off_unless_both_files_are_named() {
        assert_eq!(loaded(&[]).unwrap().workspace, None);
        let e = loaded(&[("OP_WORKSPACE_CREDENTIALS", "/k.json")]).unwrap_err();
        assert!(e.to_string().contains("OP_WORKSPACE_SETTINGS"), "{e}");
        let w = loaded(&[
            ("OP_WORKSPACE_CREDENTIALS", "/k.json"),
            ("OP_WORKSPACE_SETTINGS", "/s.json"),
        ])
        .unwrap()
        .workspace
        .unwrap();
        assert_eq!(w.api_url.to_string(), "https://admin.googleapis.com/");
        assert_eq!(w.sync_interval, DEFAULT_SYNC_INTERVAL);
        assert_eq!((w.groups, w.leave), (None, Leave::Deactivate));
    }

    #[test]
    fn groups_leave_and_the_api_url_are_checked() {
        let base = [
            ("OP_WORKSPACE_CREDENTIALS", "/k.json"),
            ("OP_WORKSPACE_SETTINGS", "/s.json"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            loaded(&all)
        };
        let w = with(&[
            ("OP_WORKSPACE_GROUPS", "eng@example.com, ops@example.com"),
            ("OP_WORKSPACE_LEAVE", "delete"),
            ("OP_WORKSPACE_API_URL", "http://127.0.0.1:9999"),
            ("OP_WORKSPACE_SYNC_INTERVAL", "30s"),
        ])
        .unwrap()
        .workspace
        .unwrap();
        assert_eq!(
            w.groups,
            Some(Selection::Groups(vec![
                "eng@example.com".into(),
                "ops@example.com".into()
            ]))
        );
        assert_eq!(w.leave, Leave::Delete);
        assert_eq!(w.sync_interval, Duration::from_secs(30));
        let e = with(&[("OP_WORKSPACE_API_URL", "http://admin.example.com")]).unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
        let e = with(&[("OP_WORKSPACE_LEAVE", "suspend")]).unwrap_err();
        assert!(e.to_string().contains("deactivate or delete"), "{e}");
        let all = with(&[("OP_WORKSPACE_GROUPS", "*")])
            .unwrap()
            .workspace
            .unwrap();
        assert_eq!(all.groups, Some(Selection::All));
    }
}
