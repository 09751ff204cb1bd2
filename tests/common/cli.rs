//! Running the `lbrymount` binary in tests.
