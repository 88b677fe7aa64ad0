//! H5: an event as ListEvents shows it, in proto3 JSON (proto field names,
//! int64 as strings, times in RFC 3339): the `data` of a webhook's body.
//! The message is encoded as the RPC encodes it, then transcoded through
//! the contract's own descriptors, so the JSON never drifts from the proto.

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

use super::super::{pb, relationships};
use crate::domain::model::Event;
use crate::domain::ports::EventJson;
use crate::domain::{Error, Result};

pub struct ProtoJsonEvents {
    event: MessageDescriptor,
}

impl ProtoJsonEvents {
    pub fn new() -> std::result::Result<Self, String> {
        let pool = DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET)
            .map_err(|error| format!("the contract's descriptors do not decode: {error}"))?;
        let event = pool
            .get_message_by_name("partnercenter.v1.Event")
            .ok_or_else(|| "the contract has no partnercenter.v1.Event".to_owned())?;
        Ok(ProtoJsonEvents { event })
    }
}

impl EventJson for ProtoJsonEvents {
    fn event_json(&self, event: &Event) -> Result<serde_json::Value> {
        let encoded = relationships::event_message(event).encode_to_vec();
        let message = DynamicMessage::decode(self.event.clone(), encoded.as_slice())
            .map_err(|error| Error::internal(format!("event {} does not transcode: {error}", event.seq)))?;
        let options = SerializeOptions::new().use_proto_field_name(true);
        message
            .serialize_with_options(serde_json::value::Serializer, &options)
            .map_err(|error| Error::internal(format!("event {} does not encode as JSON: {error}", event.seq)))
    }
}
