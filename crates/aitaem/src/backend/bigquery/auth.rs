//! Credentials for BigQuery: a key file named in the settings; anonymous ones for an emulator;
//! otherwise Application Default Credentials, in their documented order
//! (`GOOGLE_APPLICATION_CREDENTIALS`, then gcloud's ADC file, then the metadata server).

use google_cloud_auth::credentials::{Credentials, anonymous, service_account, user_account};

use super::BigQueryConfig;
use crate::config::paths::{self, PathResolver, Resolved};
use crate::error::{Error, Result};

/// Read-only access is all a compute needs; listing tables needs no more.
const SCOPES: [&str; 1] = ["https://www.googleapis.com/auth/bigquery.readonly"];

fn config_error(message: String) -> Error {
    Error::config(None, format!("bigquery credentials: {message}"))
}

/// The credentials the settings ask for.
pub(super) fn credentials(
    settings: &BigQueryConfig,
    paths: &PathResolver,
    emulator: bool,
) -> Result<Credentials> {
    if let Some(file) = &settings.credentials_file {
        return from_file(&file.display().to_string(), paths);
    }
    if emulator {
        return Ok(anonymous::Builder::new().build());
    }
    google_cloud_auth::credentials::Builder::default()
        .with_scopes(SCOPES)
        .build()
        .map_err(|e| {
            config_error(format!(
                "no usable Application Default Credentials ({e}); set GOOGLE_APPLICATION_CREDENTIALS to a key file, run `gcloud auth application-default login`, or give `credentials_file`"
            ))
        })
}

/// Credentials from a service-account or authorized-user JSON key file.
pub(super) fn from_file(path: &str, paths: &PathResolver) -> Result<Credentials> {
    let file = match paths.resolve(path) {
        Resolved::Found(file) => file,
        Resolved::Missing(tried) => {
            return Err(config_error(format!(
                "credentials file `{path}` not found (looked for {})",
                paths::list(&tried)
            )));
        }
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| config_error(format!("cannot read `{}`: {e}", file.display())))?;
    from_json(&text).map_err(|message| config_error(format!("`{}`: {message}", file.display())))
}

/// Credentials from the text of a key file.
fn from_json(text: &str) -> std::result::Result<Credentials, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a JSON key file ({e})"))?;
    let kind = json
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("the key file has no `type` (service_account or authorized_user)")?
        .to_string();
    match kind.as_str() {
        "service_account" => service_account::Builder::new(json)
            .with_access_specifier(service_account::AccessSpecifier::from_scopes(SCOPES))
            .build()
            .map_err(|e| format!("not a valid service-account key ({e})")),
        "authorized_user" => user_account::Builder::new(json)
            .with_scopes(SCOPES)
            .build()
            .map_err(|e| format!("not a valid authorized-user key ({e})")),
        other => Err(format!(
            "credential type `{other}` is not supported; use a service_account or authorized_user key file"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        let built = crate::backend::runtime::block_on(async { from_json(text) }).unwrap();
        match built {
            Ok(_) => panic!("accepted: {text}"),
            Err(message) => message,
        }
    }

    #[test]
    fn bad_key_files_are_clear_errors() {
        assert!(error("{not json").contains("not a JSON key file"));
        assert!(error("{}").contains("has no `type`"));
        assert!(
            error(r#"{"type": "external_thing"}"#).contains("`external_thing` is not supported")
        );
        assert!(
            error(r#"{"type": "service_account"}"#).contains("not a valid service-account key")
        );
        assert!(
            error(r#"{"type": "authorized_user"}"#).contains("not a valid authorized-user key")
        );
        let dir = tempfile::tempdir().unwrap();
        let paths = PathResolver::new(Some(dir.path().to_path_buf()));
        let open = |name: &str| {
            crate::backend::runtime::block_on(async { from_file(name, &paths) }).unwrap()
        };
        let err = open("missing.json").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Configuration);
        assert!(
            err.to_string().contains("`missing.json` not found"),
            "{err}"
        );
        std::fs::write(dir.path().join("bad.json"), "[1, 2").unwrap();
        let err = open("bad.json").unwrap_err();
        assert!(err.to_string().contains("not a JSON key file"), "{err}");
    }

    #[test]
    fn a_well_formed_service_account_key_gives_credentials() {
        // A syntactically complete key; nothing is requested until a token is needed.
        let key = serde_json::json!({
            "type": "service_account",
            "project_id": "my-project",
            "private_key_id": "abc",
            "private_key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
            "client_email": "robot@my-project.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token"
        });
        let built =
            crate::backend::runtime::block_on(async { from_json(&key.to_string()).is_ok() });
        assert!(built.unwrap());
    }
}
