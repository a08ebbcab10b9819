// Activities for the embedded-server conformance tests.
export async function greet(name: string): Promise<string> {
  return `Hello, ${name}!`;
}
