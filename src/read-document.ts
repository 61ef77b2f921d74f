// Reading back a document a step kept in a bucket, checked by its parser (src/core/documents.ts).
import { parseDocument, type DocumentParser } from './core/documents';
import type { Bucket, ObjectStore } from './ports';

export async function readDocument<T>(objects: ObjectStore, bucket: Bucket, key: string, parse: DocumentParser<T>): Promise<T> {
  return parseDocument((await objects.get(bucket, key)).toString('utf8'), `${bucket}/${key}`, parse);
}
