// Lambda entry for the playback route behind an API Gateway HTTP API (payload format 2.0).
import { environmentPorts } from '../../src/adapters/environment';
import { PackageUrlCache, ServeRecordCache, serveSegment, type ServeResponse } from './step';

// One cache per container: a warm container answers repeat segments without a GetFunction call,
// and repeat requests of a video without reading its route or playlist from S3.
const urls = new PackageUrlCache();
const records = new ServeRecordCache();

export interface HttpApiEvent {
  rawPath?: string;
  requestContext?: { http?: { method?: string } };
}

export function toHttpApiResult(response: ServeResponse) {
  return { statusCode: response.status, headers: response.headers, body: response.body };
}

export const handler = async (event: HttpApiEvent) => {
  const { objects, code } = environmentPorts();
  const request = { method: event.requestContext?.http?.method ?? 'GET', path: event.rawPath ?? '/' };
  return toHttpApiResult(await serveSegment(request, { objects, code, urls, records }));
};
