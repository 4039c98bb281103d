// HTTP/1.x parsing: public API used by the connection tracker.
export { Http1Exchange, type Http1Transaction } from './exchange';
export {
  Http1MessageParser,
  MAX_HEAD_BYTES,
  looksLikeHttp1Request,
  looksLikeHttp1Response,
  newHttp1Stats,
  type Http1MessageSink,
  type Http1RequestHead,
  type Http1Stats,
  type Http1Version,
} from './message';
