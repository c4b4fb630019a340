//! Tells crates that depend on gdio-vulkan where gdio.glsl is: their build scripts read
//! `DEP_GDIO_GLSL_INCLUDE` (pass it to `glslc -I`).
fn main() {
    println!(
        "cargo:include={}/shaders",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    );
    println!("cargo:rerun-if-changed=build.rs");
}
