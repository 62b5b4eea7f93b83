--
-- PostgreSQL database backup written by auzdb 0.1.0
-- database: fz
-- server version: 15.18 (Debian 15.18-0+deb12u1)
-- taken at: 2026-12-01T10:55:25.093Z
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- types
--

CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');

--
-- functions and procedures
--

CREATE OR REPLACE FUNCTION public.f(x integer)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
BEGIN
  -- a ; inside
  RETURN x + 1; /* ; */
END;
$function$
;


--
-- tables
--

CREATE TABLE public."Weird ""T""" (
    id integer NOT NULL,
    t text,
    b bytea,
    j jsonb,
    m public.mood,
    a text[]
);


--
-- functions using tables
--

CREATE OR REPLACE FUNCTION public.g(x integer)
 RETURNS integer
 LANGUAGE sql
BEGIN ATOMIC
 SELECT (x + 1);
 SELECT (x + 2);
END
;


--
-- views and materialized views
--

CREATE VIEW public.v AS
 SELECT "Weird ""T""".id,
    "Weird ""T""".t
   FROM public."Weird ""T"""
  WHERE ("Weird ""T""".t <> 'a;b'::text);


--
-- data
--

COPY public."Weird ""T""" (id, t, b, j, m, a) FROM stdin;
1	tab\there\nnewline \\ backslash\r\n	\\x00ff	{"k": "v;\\"x"}	ok	{"a,b","c\\"d"}
2	\N	\N	\N	\N	\N
3	\\.	\\x5c2e	[]	sad	{}
4	ünïcødé 🚀 $$ ; -- /* x */	\\x	null	happy	{NULL}
\.


--
-- primary keys, unique and exclusion constraints
--

ALTER TABLE ONLY public."Weird ""T""" ADD CONSTRAINT "Weird ""T""_pkey" PRIMARY KEY (id);

--
-- comments
--

COMMENT ON TABLE public."Weird ""T""" IS 'it''s; weird';

--
-- materialized view data
--


--
-- auzdb backup complete
--
