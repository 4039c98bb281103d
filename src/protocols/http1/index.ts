// HTTP/1.x parsing: the parser API (the protocol interface is protocol.ts).
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
