//! scim (in progress).
