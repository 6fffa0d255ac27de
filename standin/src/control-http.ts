/**
 * One JSON request to the stand-in's control API, over node:http. The look-alike executables start a
 * process per command, and loading fetch (undici and its wasm parser) cost such a process ~100 ms of
 * CPU against ~15 ms for node:http: most of the CPU of the tests that stop and start nodes.
 */
import http from "node:http";

export interface ControlResponse {
  status: number;
  ok: boolean;
  text: string;
}

export interface ControlRequestOptions {
  method: "GET" | "POST";
  token: string;
  body?: string;
  timeoutMs?: number;
}

export function controlRequest(url: string, o: ControlRequestOptions): Promise<ControlResponse> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    // agent: false: one connection, closed after the answer, so nothing keeps a short-lived process alive.
    const req = http.request(url, {
      method: o.method,
      agent: false,
      headers: { "X-Standin-Token": o.token, "Content-Type": "application/json" },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        resolve({ status, ok: status >= 200 && status < 300, text });
      });
      res.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(o.body);
  });
}
