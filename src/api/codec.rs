//! The service's own protobuf codec: prost's encoding, with a decoding
//! failure answered as the client's fault (W3). tonic-prost's `ProstCodec`
//! answers INTERNAL, which tells a client that follows gRPC's conventions
//! the server broke, and logs a client's junk as a server error.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use super::limits::Bounded;
use crate::domain::{Error, ErrorCode, Reason};

/// The longest decoding error message sent back; prost's messages name
/// types and fields only, but the bound keeps the reply small whatever they say.
const MAX_DECODE_MESSAGE_CHARS: usize = 512;

/// Used by the generated servers and clients in place of `ProstCodec`.
#[derive(Debug, Clone)]
pub struct ServiceCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for ServiceCodec<T, U> {
    fn default() -> Self {
        ServiceCodec(PhantomData)
    }
}

impl<T, U> Codec for ServiceCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Bounded + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ServiceDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ServiceDecoder(PhantomData)
    }
}

/// Decodes with prost; a message that does not decode is INVALID_ARGUMENT,
/// and so is a field beyond its maximum (W3).
#[derive(Debug, Clone)]
pub struct ServiceDecoder<U>(PhantomData<U>);

impl<U: Message + Default + Bounded> Decoder for ServiceDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let message = U::decode(buf).map_err(|error| Status::from(malformed(&error)))?;
        message.check_bounds()?;
        Ok(Some(message))
    }
}

/// W3: the bytes are not a valid encoding of the request message.
pub(crate) fn malformed(error: &prost::DecodeError) -> Error {
    let detail: String = error.to_string().chars().take(MAX_DECODE_MESSAGE_CHARS).collect();
    Error::new(
        ErrorCode::InvalidArgument,
        Reason::MalformedMessage,
        format!("the message is not valid protobuf for this method: {detail}"),
    )
}
