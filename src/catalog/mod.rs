//! The catalog engine (pure, no I/O): the model, the formats it is read from, validation,
//! and the merge of base catalogs, overlays and custom servers into per-user definitions.

pub mod bounds;
pub mod decode;
pub mod docker;
pub mod image;
pub mod merge;
pub mod model;
pub mod native;
pub mod parse;
pub mod report;
pub mod template;
pub mod units;
pub mod validate;
pub mod volume;
