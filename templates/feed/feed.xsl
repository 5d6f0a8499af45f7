<?xml version="1.0" encoding="utf-8"?>
{#
  XSLT 1.0 stylesheet of the RSS and Atom feeds (their <?xml-stylesheet?> points here): a
  browser that opens a feed shows a readable page saying what a feed is and how to follow it
  in a reader, then the entries (title, authors, categories, why). Readers ignore it. Built
  from the feed's own elements only (no disable-output-escaping: not every browser has it).
  Autoescaped; site_title and namespace come escaped from the renderer.
#}
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:digest="{{ namespace }}"
    exclude-result-prefixes="atom dc digest">
<xsl:output method="html" encoding="utf-8" doctype-system="about:legacy-compat" indent="no"/>

<xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
<xsl:variable name="self" select="/rss/channel/atom:link[@rel='self']/@href | /atom:feed/atom:link[@rel='self']/@href"/>
<xsl:variable name="home" select="/rss/channel/link | /atom:feed/atom:link[@rel='alternate' and @type='text/html']/@href"/>

<xsl:template match="/">
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="robots" content="noindex"/>
<title><xsl:value-of select="$title"/> (feed)</title>
<xsl:if test="/rss"><link rel="alternate" type="application/rss+xml" href="{$self}"/></xsl:if>
<xsl:if test="/atom:feed"><link rel="alternate" type="application/atom+xml" href="{$self}"/></xsl:if>
<style>
:root { color-scheme: light dark; --ink: #1d1d1f; --muted: #5f6368; --line: #e3e3e6; --accent: #1a56b4; --soft: #f3f6fb; }
@media (prefers-color-scheme: dark) { :root { --ink: #e8e8ea; --muted: #a9adb3; --line: #3a3b3f; --accent: #8ab4f8; --soft: #1f2633; } body { background: #141517; } }
body { margin: 0; font: 16px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink); }
main { max-width: 44rem; margin: 0 auto; padding: 1rem; }
.dg-about { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 0.75rem 1rem; }
.dg-about h1 { font-size: 1.15rem; margin: 0 0 0.25rem; }
.dg-about p { margin: 0.4rem 0; }
.dg-url { display: block; overflow-wrap: anywhere; font: 0.9rem/1.4 ui-monospace, Menlo, Consolas, monospace; background: transparent; border: 1px dashed var(--line); padding: 0.5rem; border-radius: 6px; user-select: all; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 0.5rem; color: var(--muted); font-weight: 600; }
article { border-top: 1px solid var(--line); padding: 0.75rem 0; }
article h3 { font-size: 1.05rem; margin: 0 0 0.2rem; line-height: 1.35; }
a { color: var(--accent); }
.dg-meta, .dg-why { color: var(--muted); font-size: 0.9rem; margin: 0.2rem 0; }
</style>
</head>
<body>
<main>
<section class="dg-about">
<h1>This is your private feed of <xsl:value-of select="$title"/></h1>
<p>It is meant for a <strong>feed reader</strong> (NetNewsWire, Feedly, Inoreader, Thunderbird, Miniflux…): each digest arrives there as new entries, with why each paper was picked.</p>
<p>To follow it, copy this address and add it in your reader as a new feed or subscription:</p>
<code class="dg-url"><xsl:value-of select="$self"/></code>
<p>The address is personal: anyone who has it can read your digest.
<xsl:if test="$home"> <a href="{$home}">Read the latest digest as a web page</a>.</xsl:if></p>
</section>
<h2>Latest entries</h2>
<xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
<xsl:if test="not(/rss/channel/item | /atom:feed/atom:entry)">
<p>No entries yet: your first digest will appear here.</p>
</xsl:if>
</main>
</body>
</html>
</xsl:template>

<xsl:template match="item | atom:entry">
<xsl:variable name="link" select="link | atom:link[not(@rel) or @rel='alternate']/@href"/>
<article>
<h3>
<xsl:choose>
<xsl:when test="$link"><a href="{$link}"><xsl:value-of select="title | atom:title"/></a></xsl:when>
<xsl:otherwise><xsl:value-of select="title | atom:title"/></xsl:otherwise>
</xsl:choose>
</h3>
<p class="dg-meta">
<xsl:value-of select="dc:creator"/>
<xsl:for-each select="(atom:author/atom:name)[position() &lt;= 3]">
<xsl:if test="position() &gt; 1">, </xsl:if>
<xsl:value-of select="."/>
</xsl:for-each>
<xsl:if test="count(atom:author) &gt; 3"> et al.</xsl:if>
<xsl:for-each select="category | atom:category/@term">
<xsl:if test="position() = 1"> · </xsl:if>
<xsl:if test="position() &gt; 1">, </xsl:if>
<xsl:value-of select="."/>
</xsl:for-each>
</p>
<xsl:if test="digest:reason">
<p class="dg-why">Why: <xsl:for-each select="digest:reason"><xsl:if test="position() &gt; 1">; </xsl:if><xsl:value-of select="."/></xsl:for-each></p>
</xsl:if>
</article>
</xsl:template>

</xsl:stylesheet>
