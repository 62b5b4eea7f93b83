--
-- PostgreSQL database dump
--

\restrict 3qPSn0nClku0La44gXzuFwKDl1X7eygF8B7tp0as4kPzpyRQ4lMm8e46iqNQ1al

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

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
-- Name: mood; Type: TYPE; Schema: public; Owner: postgres
--

CREATE TYPE public.mood AS ENUM (
    'sad',
    'ok',
    'happy'
);


ALTER TYPE public.mood OWNER TO postgres;

--
-- Name: f(integer); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.f(x integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
BEGIN
  -- a ; inside
  RETURN x + 1; /* ; */
END;
$$;


ALTER FUNCTION public.f(x integer) OWNER TO postgres;

--
-- Name: g(integer); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.g(x integer) RETURNS integer
    LANGUAGE sql
    BEGIN ATOMIC
 SELECT (x + 1);
 SELECT (x + 2);
END;


ALTER FUNCTION public.g(x integer) OWNER TO postgres;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: Weird "T"; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public."Weird ""T""" (
    id integer NOT NULL,
    t text,
    b bytea,
    j jsonb,
    m public.mood,
    a text[]
);


ALTER TABLE public."Weird ""T""" OWNER TO postgres;

--
-- Name: TABLE "Weird ""T"""; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public."Weird ""T""" IS 'it''s; weird';


--
-- Name: v; Type: VIEW; Schema: public; Owner: postgres
--

CREATE VIEW public.v AS
 SELECT "Weird ""T""".id,
    "Weird ""T""".t
   FROM public."Weird ""T"""
  WHERE ("Weird ""T""".t <> 'a;b'::text);


ALTER TABLE public.v OWNER TO postgres;

--
-- Data for Name: Weird "T"; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public."Weird ""T""" (id, t, b, j, m, a) FROM stdin;
1	tab\there\nnewline \\ backslash\r\n	\\x00ff	{"k": "v;\\"x"}	ok	{"a,b","c\\"d"}
2	\N	\N	\N	\N	\N
3	\\.	\\x5c2e	[]	sad	{}
4	ünïcødé 🚀 $$ ; -- /* x */	\\x	null	happy	{NULL}
\.


--
-- Name: Weird "T" Weird "T"_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public."Weird ""T"""
    ADD CONSTRAINT "Weird ""T""_pkey" PRIMARY KEY (id);


--
-- PostgreSQL database dump complete
--

\unrestrict 3qPSn0nClku0La44gXzuFwKDl1X7eygF8B7tp0as4kPzpyRQ4lMm8e46iqNQ1al

