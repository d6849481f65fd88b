//! Rebuild when a migration is added or changed: `refinery::embed_migrations!`
//! reads `schema/` and `projections/` at compile time, and cargo would not
//! otherwise notice a new file there.
fn main() {
    for dir in ["schema", "projections"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
