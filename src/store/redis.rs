//! The Redis store (placeholder while it is written).
