//! The plugin's side of the Settings page: theme, stylesheet, prompt
//! pictures (stored in the database so every instance serves them), and the
//! installation snippet.

pub mod graphql;
pub mod service;
