//! Admin routes for what users' servers are merged from: base catalogs (upload, history,
//! rollback, removal, validation), Docker MCP registry imports, and overlays.

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::{blocking, file_label, ok, parse, required_body, ApiResult, S};
use crate::api::auth::Need;
use crate::api::ApiError;
use crate::api::RegistryBody;
use crate::engine::Engine;
use crate::ids::CatalogName;
use crate::manager::{DeployReport, ImportOptions, RemovedReport, UploadReport, ValidateReport};
use crate::store::TokenRecord;

fn catalog_name(name: &str) -> Result<CatalogName, ApiError> {
    parse("catalog name", name, CatalogName::parse)
}

#[derive(Debug, Deserialize)]
pub(super) struct NameQuery {
    name: Option<String>,
    /// The file name to report problems against (the remote CLI sends its own).
    file: Option<String>,
    /// Leave out the entries with errors and store the rest (`--skip-invalid`).
    #[serde(default)]
    skip_invalid: bool,
}

pub(super) async fn list<E: Engine + 'static>(state: S<E>, headers: HeaderMap) -> ApiResult {
    state.authorize(&headers, Need::Admin)?;
    let portal = state.portal.clone();
    ok(blocking(move || portal.list_catalogs()).await?)
}

async fn store<E: Engine + 'static>(
    state: S<E>,
    headers: &HeaderMap,
    name: Option<String>,
    file: Option<String>,
    bytes: Bytes,
    opts: ImportOptions,
) -> ApiResult {
    let token = state.authorize(headers, Need::Admin)?;
    ok(stored(&state, &token, name, file, bytes, opts).await?)
}

async fn stored<E: Engine + 'static>(
    state: &S<E>,
    token: &TokenRecord,
    name: Option<String>,
    file: Option<String>,
    bytes: Bytes,
    opts: ImportOptions,
) -> Result<UploadReport, ApiError> {
    let name = name.map(|n| catalog_name(&n)).transpose()?;
    let file = file_label(file, || {
        format!("api:{}", name.as_ref().map_or("catalog", |n| n.as_str()))
    })?;
    let caller = state.as_caller(token);
    blocking(move || caller.upload_catalog_with(&file, &bytes, name, opts)).await
}

#[derive(Debug, Deserialize)]
pub(super) struct BaseQuery {
    name: Option<String>,
    file: Option<String>,
    auto_deploy: Option<bool>,
    #[serde(default)]
    skip_invalid: bool,
}

/// Seed 004's upload body: `{"catalog": {...}, "auto_deploy": true}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUpload {
    catalog: serde_json::Value,
    auto_deploy: Option<bool>,
}

/// The catalog's bytes and whether to deploy it, from seed 004's body or from a plain
/// catalog file (JSON or YAML) with `?auto_deploy=`. Unset, `auto_deploy` is true, the
/// seed's default.
fn seed_body(bytes: Bytes, query: Option<bool>) -> Result<(Bytes, bool), ApiError> {
    let wrapped = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(|v| v.get("catalog").is_some_and(serde_json::Value::is_object));
    let Some(v) = wrapped else {
        return Ok((bytes, query.unwrap_or(true)));
    };
    let seed: SeedUpload = serde_json::from_value(v)
        .map_err(|e| ApiError::usage(format!("request body: {e}; send {{\"catalog\": {{...}}, \"auto_deploy\": true}} or the catalog file itself")))?;
    let catalog = serde_json::to_vec(&seed.catalog)
        .map_err(|e| ApiError::usage(format!("request body: catalog: {e}")))?;
    Ok((
        Bytes::from(catalog),
        seed.auto_deploy.or(query).unwrap_or(true),
    ))
}

/// What seed 004's upload did: the upload's report, and what `auto_deploy` changed.
#[derive(Debug, Serialize)]
struct BaseUploadReport {
    #[serde(flatten)]
    upload: UploadReport,
    auto_deploy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployed: Option<DeployReport>,
}

async fn store_base<E: Engine + 'static>(
    state: S<E>,
    headers: &HeaderMap,
    name: Option<String>,
    q: BaseQuery,
    bytes: Bytes,
) -> ApiResult {
    let token = state.authorize(headers, Need::Admin)?;
    let (bytes, auto_deploy) = seed_body(bytes, q.auto_deploy)?;
    let opts = ImportOptions {
        skip_invalid: q.skip_invalid,
    };
    let upload = stored(&state, &token, name.or(q.name), q.file, bytes, opts).await?;
    let deployed = if auto_deploy {
        let caller = state.as_caller(&token);
        Some(
            state
                .rt
                .deploy_by(&caller, &upload.regenerated.regenerated)
                .await,
        )
    } else {
        None
    };
    ok(BaseUploadReport {
        upload,
        auto_deploy,
        deployed,
    })
}

/// `POST /api/v1/admin/catalogs/base`: seed 004's name of the upload.
pub(super) async fn upload_base<E: Engine + 'static>(
    state: S<E>,
    Query(q): Query<BaseQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    store_base(state, &headers, None, q, bytes).await
}

/// `PUT /api/v1/admin/catalogs/base/{catalog_id}`: seed 004's name of a new revision.
pub(super) async fn update_base<E: Engine + 'static>(
    state: S<E>,
    Path(name): Path<String>,
    Query(q): Query<BaseQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    store_base(state, &headers, Some(name), q, bytes).await
}

pub(super) async fn upload<E: Engine + 'static>(
    state: S<E>,
    Query(q): Query<NameQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let opts = ImportOptions {
        skip_invalid: q.skip_invalid,
    };
    store(state, &headers, q.name, q.file, bytes, opts).await
}

pub(super) async fn update<E: Engine + 'static>(
    state: S<E>,
    Path(name): Path<String>,
    Query(q): Query<NameQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let opts = ImportOptions {
        skip_invalid: q.skip_invalid,
    };
    store(state, &headers, Some(name), q.file, bytes, opts).await
}

pub(super) async fn history<E: Engine + 'static>(
    state: S<E>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    state.authorize(&headers, Need::Admin)?;
    let name = catalog_name(&name)?;
    let portal = state.portal.clone();
    ok(blocking(move || portal.catalog_history(&name)).await?)
}

#[derive(Debug, Deserialize)]
pub(super) struct ToQuery {
    to: Option<u32>,
}

pub(super) async fn rollback<E: Engine + 'static>(
    state: S<E>,
    Path(name): Path<String>,
    Query(q): Query<ToQuery>,
    headers: HeaderMap,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let name = catalog_name(&name)?;
    let caller = state.as_caller(&token);
    ok(blocking(move || caller.rollback_catalog(&name, q.to)).await?)
}

pub(super) async fn remove<E: Engine + 'static>(
    state: S<E>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let name = catalog_name(&name)?;
    let caller = state.as_caller(&token);
    let r = blocking(move || {
        Ok(RemovedReport {
            regenerated: caller.remove_catalog(&name)?,
            removed: name,
        })
    })
    .await?;
    ok(r)
}

#[derive(Debug, Deserialize)]
pub(super) struct FileQuery {
    file: Option<String>,
}

pub(super) async fn validate<E: Engine + 'static>(
    state: S<E>,
    Query(q): Query<FileQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    state.authorize(&headers, Need::Admin)?;
    let file = file_label(q.file, || "api:catalog".into())?;
    let portal = state.portal.clone();
    let parsed = blocking(move || Ok(portal.validate_catalog(&file, &bytes)?)).await?;
    ok(ValidateReport::from(parsed))
}

pub(super) async fn validate_registry<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    state.authorize(&headers, Need::Admin)?;
    let (dir, entries) = required_body::<RegistryBody>(&bytes)?
        .into_entries()
        .map_err(ApiError::usage)?;
    let portal = state.portal.clone();
    let parsed = blocking(move || Ok(portal.validate_registry(&dir, entries)?)).await?;
    ok(ValidateReport::from(parsed))
}

#[derive(Debug, Deserialize)]
pub(super) struct ImportQuery {
    /// Required; optional here so that a missing token answers 401 before this is checked.
    name: Option<String>,
    /// Leave out the entries with errors and store the rest (`--skip-invalid`).
    #[serde(default)]
    skip_invalid: bool,
}

pub(super) async fn import<E: Engine + 'static>(
    state: S<E>,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let name = q
        .name
        .ok_or_else(|| ApiError::usage("query: name is required (the catalog to import as)"))?;
    let name = catalog_name(&name)?;
    let (dir, entries) = required_body::<RegistryBody>(&bytes)?
        .into_entries()
        .map_err(ApiError::usage)?;
    let caller = state.as_caller(&token);
    let opts = ImportOptions {
        skip_invalid: q.skip_invalid,
    };
    ok(blocking(move || caller.import_registry_with(&dir, entries, Some(name), opts)).await?)
}

pub(super) async fn list_overlays<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
) -> ApiResult {
    state.authorize(&headers, Need::Admin)?;
    let portal = state.portal.clone();
    ok(blocking(move || portal.list_overlays()).await?)
}

pub(super) async fn upload_overlay<E: Engine + 'static>(
    state: S<E>,
    Path(name): Path<String>,
    Query(q): Query<FileQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let name = catalog_name(&name)?;
    let file = file_label(q.file, || format!("api:{name}"))?;
    let caller = state.as_caller(&token);
    ok(blocking(move || caller.upload_overlay(&file, &bytes, name)).await?)
}

pub(super) async fn remove_overlay<E: Engine + 'static>(
    state: S<E>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let token = state.authorize(&headers, Need::Admin)?;
    let name = catalog_name(&name)?;
    let caller = state.as_caller(&token);
    let r = blocking(move || {
        Ok(RemovedReport {
            regenerated: caller.remove_overlay(&name)?,
            removed: name,
        })
    })
    .await?;
    ok(r)
}
