//! Reading the files a command names (`-` is standard input), refusing oversized ones
//! before reading them.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::catalog::docker::toolkit::{self, ToolkitFiles};
use crate::catalog::parse::{check_size, RegistryEntries};

/// A value typed on the command line that must never be printed: a token, a secret.
/// `Debug` shows only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Hidden(pub String);

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hidden(<redacted>)")
    }
}

/// clap's parser for a [`Hidden`] argument.
pub fn hidden(s: &str) -> Result<Hidden, String> {
    Ok(Hidden(s.to_string()))
}

/// Reads FILE (or stdin for `-`) and returns the name to report it under with its bytes.
pub fn read_file(path: &Path, max_bytes: u64) -> anyhow::Result<(String, Vec<u8>)> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(max_bytes + 1)
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        check_size("<stdin>", bytes.len() as u64, max_bytes)?;
        return Ok(("<stdin>".to_string(), bytes));
    }
    let name = path.display().to_string();
    let meta = fs::metadata(path).with_context(|| format!("cannot read {name}: check the path"))?;
    if meta.is_dir() {
        bail!("{name} is a folder; give a catalog file (or use `portalctl catalog import` for a registry folder)");
    }
    check_size(&name, meta.len(), max_bytes)?;
    let bytes = fs::read(path).with_context(|| format!("cannot read {name}"))?;
    check_size(&name, bytes.len() as u64, max_bytes)?;
    Ok((name, bytes))
}

/// Reads a Docker MCP registry folder: `DIR/servers/<name>/server.yaml` (or `DIR/<name>/server.yaml`).
pub fn read_registry(dir: &Path, max_bytes: u64) -> anyhow::Result<(String, RegistryEntries)> {
    let name = dir.display().to_string();
    if !dir.is_dir() {
        bail!("{name} is not a folder; give the folder that holds servers/<name>/server.yaml");
    }
    let servers: PathBuf = if dir.join("servers").is_dir() {
        dir.join("servers")
    } else {
        dir.to_path_buf()
    };
    let mut folders: Vec<PathBuf> = fs::read_dir(&servers)
        .with_context(|| format!("cannot list {}", servers.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("server.yaml").is_file())
        .collect();
    folders.sort();
    let mut entries = Vec::new();
    for folder in folders {
        let file = folder.join("server.yaml");
        let folder_name = folder
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let shown = file.display().to_string();
        let len = fs::metadata(&file)
            .with_context(|| format!("cannot read {shown}"))?
            .len();
        check_size(&shown, len, max_bytes)?;
        let bytes = fs::read(&file).with_context(|| format!("cannot read {shown}"))?;
        entries.push((folder_name, bytes));
    }
    Ok((name.trim_end_matches('/').to_string(), entries))
}

/// Reads a Docker Desktop MCP Toolkit folder: the files the migration uses
/// (`registry.yaml`, `config.yaml`, `tools.yaml`, `catalog.json`, `catalogs/*.yaml`),
/// keyed by their path inside it. Nothing else of the folder is read.
pub fn read_toolkit(dir: &Path, max_bytes: u64) -> anyhow::Result<(String, ToolkitFiles)> {
    let shown = dir.display().to_string();
    if !dir.is_dir() {
        bail!("{shown} is not a folder; give the Toolkit's folder (~/.docker/mcp)");
    }
    let mut wanted: Vec<String> = [
        toolkit::REGISTRY,
        toolkit::CONFIG,
        toolkit::TOOLS,
        toolkit::CATALOGS,
    ]
    .iter()
    .map(|f| f.to_string())
    .collect();
    let catalogs = dir.join("catalogs");
    if catalogs.is_dir() {
        let entries = fs::read_dir(&catalogs)
            .with_context(|| format!("cannot list {}", catalogs.display()))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".yaml") && e.path().is_file() {
                wanted.push(format!("catalogs/{name}"));
            }
        }
    }
    let mut files = ToolkitFiles::new();
    for rel in wanted {
        let path = dir.join(&rel);
        if !path.is_file() {
            continue;
        }
        let file = path.display().to_string();
        let len = fs::metadata(&path)
            .with_context(|| format!("cannot read {file}"))?
            .len();
        check_size(&file, len, max_bytes)?;
        let bytes = fs::read(&path).with_context(|| format!("cannot read {file}"))?;
        check_size(&file, bytes.len() as u64, max_bytes)?;
        files.insert(rel, bytes);
    }
    Ok((shown.trim_end_matches('/').to_string(), files))
}
