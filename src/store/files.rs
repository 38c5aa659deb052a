//! Reading, writing, listing and removing the store's JSON records, on top of the atomic
//! writer: the few operations every record module is built from.

use std::fs;
use std::io;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::atomic::{self, PRIVATE, PUBLIC};
use super::{io_err, sha256_hex, Loaded, Store, StoreError};

/// How a record is laid out on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// Indented, for records people read and back up.
    Pretty,
    /// One line, for records only the portal reads.
    Compact,
}

impl Store {
    pub(super) fn write_json<T: Serialize>(
        &self,
        path: &Path,
        value: &T,
    ) -> Result<(), StoreError> {
        write_encoded(path, value, Encoding::Pretty, PUBLIC)
    }

    /// Like `write_json`, readable by the portal's own user only.
    pub(super) fn write_private_json<T: Serialize>(
        &self,
        path: &Path,
        value: &T,
    ) -> Result<(), StoreError> {
        write_encoded(path, value, Encoding::Pretty, PRIVATE)
    }

    pub(super) fn write_json_as<T: Serialize>(
        &self,
        path: &Path,
        value: &T,
        encoding: Encoding,
    ) -> Result<(), StoreError> {
        write_encoded(path, value, encoding, PUBLIC)
    }

    /// The record in `path`, or `None` when there is no such file.
    pub(super) fn read_json<T: DeserializeOwned>(
        &self,
        path: &Path,
    ) -> Result<Option<Loaded<T>>, StoreError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", path)(e)),
        };
        let value = serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Some(Loaded {
            value,
            sha256: sha256_hex(&bytes),
        }))
    }

    /// The record in `path`, or its default when there is no such file.
    pub(super) fn read_json_or_default<T: DeserializeOwned + Default>(
        &self,
        path: &Path,
    ) -> Result<T, StoreError> {
        Ok(self.read_json(path)?.map(|l| l.value).unwrap_or_default())
    }

    /// Removes a file or a whole folder; `false` when it was not there.
    pub(super) fn remove_path(&self, path: &Path) -> Result<bool, StoreError> {
        let result = if path.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("remove", path)(e)),
        }
    }

    /// Names of the entries of `dir` that parse as `T`, sorted; other entries are skipped.
    pub(super) fn names<T: Ord>(
        &self,
        dir: &Path,
        strip: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, StoreError> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("list", dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("list", dir))?;
            let stem = entry
                .file_name()
                .to_str()
                .and_then(|name| name.strip_suffix(strip).and_then(&parse));
            out.extend(stem);
        }
        out.sort();
        Ok(out)
    }
}

fn write_encoded<T: Serialize>(
    path: &Path,
    value: &T,
    encoding: Encoding,
    mode: u32,
) -> Result<(), StoreError> {
    let encoded = match encoding {
        Encoding::Pretty => serde_json::to_vec_pretty(value),
        Encoding::Compact => serde_json::to_vec(value),
    };
    let mut bytes = encoded.map_err(|source| StoreError::Corrupt {
        path: path.to_path_buf(),
        source,
    })?;
    bytes.push(b'\n');
    atomic::write_replace(path, &bytes, mode)
}
