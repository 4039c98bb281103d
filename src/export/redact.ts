// Query values can carry tokens and personal data: they are replaced unless
// the user opts out. Keys stay, so routes remain recognisable.
export const REDACTED = 'REDACTED';

export function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? pair : `${pair.slice(0, eq)}=${REDACTED}`;
    })
    .join('&');
}
