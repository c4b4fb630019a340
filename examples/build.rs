//! Compiles the examples' shaders with glslc, with gdio.glsl on the include path.
fn main() {
    let include =
        std::env::var("DEP_GDIO_GLSL_INCLUDE").expect("gdio-vulkan exports its GLSL folder");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in ["read_file", "write_file", "cached_reads"] {
        let src = format!("shaders/{name}.comp");
        println!("cargo:rerun-if-changed={src}");
        let status = std::process::Command::new("glslc")
            .args(["--target-env=vulkan1.2", "-O", "-I", &include, &src, "-o"])
            .arg(format!("{out}/{name}.spv"))
            .status()
            .expect("glslc (Debian/Ubuntu: apt-get install glslc)");
        assert!(status.success(), "glslc failed on {src}");
    }
    println!("cargo:rerun-if-changed={include}/gdio.glsl");
    println!("cargo:rerun-if-changed={include}/gdio_cache.glsl");
}
