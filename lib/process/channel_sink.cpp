#include "process/channel_sink.hpp"

#include "process/value_codec.hpp"

namespace rsp::process {

void ChannelSink::close() {
  detail::Lock lock(mutex_);
  closed_ = true;
}

void ChannelSink::send(StreamKind kind, std::string payload, int percent) {
  std::string bytes = encode(StreamRecord{id_, kind, percent, std::move(payload)});
  detail::Lock lock(mutex_);
  if (closed_) return;
  transport_.send(bytes);
}

void ChannelSink::write_output(std::any value) { send(StreamKind::Output, encode_value(value)); }

void ChannelSink::write_error(std::string message) { send(StreamKind::Error, std::move(message)); }

void ChannelSink::write_text(detail::TextStream stream, std::string message) {
  StreamKind kind = StreamKind::Warning;
  switch (stream) {
    case detail::TextStream::Warning:
      kind = StreamKind::Warning;
      break;
    case detail::TextStream::Verbose:
      kind = StreamKind::Verbose;
      break;
    case detail::TextStream::Debug:
      kind = StreamKind::Debug;
      break;
    case detail::TextStream::Information:
      kind = StreamKind::Information;
      break;
  }
  send(kind, std::move(message));
}

void ChannelSink::write_progress(int percent, std::string status) {
  send(StreamKind::Progress, std::move(status), percent);
}

}  // namespace rsp::process
