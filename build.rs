//! Compiles the protobuf contract with protox (pure Rust: no system protoc)
//! and writes the descriptor set that server reflection serves.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "proto/partnercenter/v1/partner.proto",
    "proto/partnercenter/v1/customer.proto",
    "proto/partnercenter/v1/relationship.proto",
    "proto/partnercenter/v1/webhook.proto",
];

/// The internal API of the split deployment: generated with the rest, but
/// with a descriptor set of its own, so reflection shows it only where it
/// is served.
const INTERNAL_PROTOS: &[&str] = &["proto/partnercenter/internal/v1/internal.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    let descriptors = protox::compile(PROTOS, ["proto"])?;
    fs::write(
        out_dir.join("partnercenter_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    let internal = protox::compile(INTERNAL_PROTOS, ["proto"])?;
    fs::write(
        out_dir.join("partnercenter_internal_descriptor.bin"),
        internal.encode_to_vec(),
    )?;
    let mut all = descriptors;
    all.file.extend(internal.file);

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // W3: a message that does not decode is the client's fault.
        .codec_path("crate::api::codec::ServiceCodec")
        .compile_fds(all)?;
    Ok(())
}
